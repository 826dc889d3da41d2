"""Building the pipeline from config.yaml, and ``edihub serve``: the scheduler around it.

``edihub serve`` runs APScheduler (a background scheduler, one worker thread):
one poll job per partner (the profile's ``schedule``: an interval or a cron
expression; by default every ``runtime.poll_seconds``), a work job for what
is not tied to a poll (due retries, the ERP's outbound documents; every few
seconds) and the overdue sweeper (``runtime.ack_sweep_seconds``: acknowledgments
past their SLA, and async AS2 MDNs past ``mdn_overdue_seconds``, resent or
reported as the profile says).
The drop zones are also watched (watchdog, plus a full scan every
``folders.scan_interval``): a new file brings its partner's poll forward.
SIGTERM or SIGINT stops it gracefully: the item in hand is finished, nothing
new is started.  Several ``serve`` processes may share one PostgreSQL store:
work is claimed, never taken twice.
"""

from __future__ import annotations

import datetime as _dt
import logging
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.errors import TerminalError
from hub.runtime.pipeline import Pipeline, RunReport, Settings

log = logging.getLogger("edihub.serve")


class ConfigurationError(TerminalError):
    """The hub cannot start: bad profiles, a mapping that does not load, an unknown ERP adapter..."""


def build_pipeline(config: Mapping[str, Any], *, erp: Any = None, transports: Mapping[str, Any] | None = None,
                   store: Any = None) -> Pipeline:
    """The pipeline for ``config``: the store (migrated), the archive, the checked profiles and the ERP adapter."""
    from hub.erp import build_adapter
    from hub.partners import ProfileError, load_profiles
    from hub.partners.mappings import mapping_errors
    from hub.store import Archive, open_store

    settings = Settings.from_config(config)
    try:
        profiles = load_profiles(config["partners"]["folder"])
    except ProfileError as exc:
        raise ConfigurationError("partner profiles: " + "; ".join(exc.messages)) from exc
    problems = [p for profile in profiles.values() for p in mapping_errors(profile, settings.mappings)]
    if problems:
        raise ConfigurationError("; ".join(problems))
    active = {pid: p for pid, p in profiles.items() if p.active}
    if erp is None:
        try:
            erp = build_adapter(config["erp"])
        except ValueError as exc:
            raise ConfigurationError(f"erp: {exc}") from exc
    if store is None:
        url = config["database"]["url"]
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        store = open_store(url)
    archive = Archive(config["folders"]["archive"])
    return Pipeline(store, archive, active, erp, settings, transports=transports)


def run_once(config: Mapping[str, Any], *, wait: bool = True) -> RunReport:
    """``edihub run --once``: every step until nothing is left (files still settling are waited for)."""
    pipeline = build_pipeline(config)
    try:
        return pipeline.run_until_idle(wait=time.sleep if wait else None)
    finally:
        pipeline.close()


class Server:
    """``edihub serve``: the scheduler, the drop-zone watcher and graceful shutdown."""

    def __init__(self, config: Mapping[str, Any], pipeline: Pipeline | None = None) -> None:
        self.config = config
        self.pipeline = pipeline or build_pipeline(config)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()  # one pass at a time in this process
        self.scheduler: Any = None
        self.report = RunReport()

    # the jobs -----------------------------------------------------------------------------

    def _pass(self, partner: str | None, *, poll: bool, sweep: bool = False) -> None:
        if self.stop_event.is_set():
            return
        with self.lock:
            if self.stop_event.is_set():
                return
            p = self.pipeline
            r = RunReport()
            try:
                if poll and partner is not None:
                    p.poll_partner(partner, r)
                p.parse_ready(r)
                p.map_ready(r)
                p.fetch_outbound(r)
                p.forward_ready(r)
                if sweep:
                    p.sweep_overdue(r)
            except Exception:  # a job must never kill the scheduler; the item's own failure is in the store
                log.exception("pass failed")
            self.report.add(r)
            for error in r.errors:
                log.warning("%s", error)

    def poll_job(self, partner: str) -> None:
        self._pass(partner, poll=True)

    def work_job(self) -> None:
        self._pass(None, poll=False)

    def sweep_job(self) -> None:
        self._pass(None, poll=False, sweep=True)

    # running ------------------------------------------------------------------------------

    def start(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        rt = self.config["runtime"]
        now = _dt.datetime.now(_dt.UTC)
        sched = BackgroundScheduler(timezone=_dt.UTC, executors={"default": {"type": "threadpool",
                                                                            "max_workers": 1}},
                                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        for pid in sorted(self.pipeline.transports):
            sched.add_job(self.poll_job, self.trigger(pid), args=[pid], id=f"poll:{pid}", next_run_time=now)
        sched.add_job(self.work_job, "interval", seconds=min(5.0, float(rt["poll_seconds"])), id="work")
        sched.add_job(self.sweep_job, "interval", seconds=float(rt["ack_sweep_seconds"]), id="acks",
                      next_run_time=now)
        sched.start()
        self.scheduler = sched

    def trigger(self, partner: str) -> Any:
        """The partner's poll schedule: its profile's cron or interval, else ``runtime.poll_seconds``."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        schedule = self.pipeline.profiles[partner].schedule
        if schedule.cron:
            return CronTrigger.from_crontab(schedule.cron, timezone=_dt.UTC)
        seconds = schedule.interval_seconds or float(self.config["runtime"]["poll_seconds"])
        return IntervalTrigger(seconds=seconds, timezone=_dt.UTC)

    def wake(self, partner: str | None = None) -> None:
        """Run a partner's poll (or every partner's) now."""
        if self.scheduler is None:
            return
        now = _dt.datetime.now(_dt.UTC)
        for pid in [partner] if partner else sorted(self.pipeline.transports):
            job = self.scheduler.get_job(f"poll:{pid}")
            if job is not None:
                job.modify(next_run_time=now)

    def serve_forever(self, *, install_signals: bool = True) -> RunReport:
        from hub.transports import DropZoneWatcher

        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_event.set())
        folders = [Path(t.inbound) for t in self.pipeline.transports.values() if hasattr(t, "inbound")]
        watcher = DropZoneWatcher(folders, scan_interval=float(self.config["folders"]["scan_interval"]))
        watcher.start()
        self.start()
        log.info("edihub serve: %d partner(s), store %s", len(self.pipeline.transports),
                 self.config["database"]["url"])
        zone = self._start_sftp_zone()
        as2 = None
        try:
            as2 = self._start_as2_endpoint()
            while not self.stop_event.is_set():
                pending = [t.next_check_in() for t in self.pipeline.transports.values()
                           if hasattr(t, "next_check_in")]
                pending = [x for x in pending if x is not None]
                timeout = min([1.0, *[x + 0.05 for x in pending]])
                # a file-system event, or a file seen settling whose second look is due now
                if watcher.wait(timeout) or any(x <= 0.1 for x in pending):
                    self.wake()
        finally:
            if as2 is not None:
                as2.shutdown()
                as2.seen_message_ids.close()
            if zone is not None:
                zone.stop()
            self.stop()
            watcher.stop()
        return self.report

    def _start_sftp_zone(self) -> Any:
        """The hosted SFTP drop zone (``sftp_server.port``, 0: off): partners with an ``sftp_account`` log in
        to a virtual root whose inbound/ and outbound/ are their folder channels; a completed upload wakes
        the partner's poll."""
        cfg = self.config["sftp_server"]
        if not cfg["port"]:
            return None
        from hub.transports.sftp_server import HostedSftpZone

        zone = HostedSftpZone(self.pipeline.profiles, ".", port=int(cfg["port"]), host_key=cfg["host_key"],
                              host=cfg["listen"], on_file_complete=lambda pid, path: self.wake(pid))
        return zone.start()

    def _start_as2_endpoint(self) -> Any:
        """The AS2 endpoint (``as2.port``, 0: off) for partners whose ``channels.inbound`` is ``as2``.

        Each verified payload is linked atomically into ``<as2.folder>/inbound/<partner>/`` (the folder that
        partner's transport polls) before the MDN is answered, and the partner's poll is woken.  Message-IDs
        are kept in ``<as2.folder>/seen_message_ids.sqlite``; async MDNs for what we sent are matched in the
        store (:class:`~hub.transports.as2.StoreMdnRegistry`, the pipeline's, shared with the partners'
        :class:`~hub.transports.as2.As2Transport` s), so an MDN is matched and its MIC checked after a restart
        too, and recorded with its raw bytes.
        """
        cfg = self.config.get("as2", {})
        if not cfg.get("port"):
            return None
        from hub.as2 import As2Receiver, identity_from_config, partnership_from_config
        from hub.partners.profile import As2Channel
        from hub.transports.as2 import SqliteSeenMessageIds, as2_inbound_folder, write_payload

        if not cfg.get("as2_id") or not cfg.get("keys"):
            raise ConfigurationError("as2.port is set: as2.as2_id and as2.keys are needed too")
        registry = self.pipeline.as2_mdns
        try:
            identity = identity_from_config(cfg)
            partnerships: list[Any] = []
            mdn_only: list[Any] = []
            for pid, p in self.pipeline.profiles.items():
                inbound, outbound = p.channels.inbound, p.channels.outbound
                # a partner we only send to by AS2 still posts its async MDNs here
                channel = inbound if isinstance(inbound, As2Channel) else outbound
                if not isinstance(channel, As2Channel):
                    continue
                partnership = partnership_from_config(pid, channel.partnership_config(), our_as2_id=cfg["as2_id"],
                                                      async_mdn_url=cfg.get("public_url"))
                (partnerships if channel is inbound else mdn_only).append(partnership)
        except Exception as exc:
            raise ConfigurationError(f"as2: {exc}") from exc
        folder = Path(str(cfg.get("folder") or "var/as2"))
        seen = SqliteSeenMessageIds(folder / "seen_message_ids.sqlite")

        def on_payload(partner_id: str, filename: str, data: Any, message_id: str) -> None:
            path = write_payload(as2_inbound_folder(cfg, partner_id), filename, data, message_id)
            seen.confirm(partner_id, message_id)
            log.info("AS2 %s from %s: %s", message_id, partner_id, path)
            self.wake(partner_id)

        receiver = As2Receiver(partnerships, identity, on_payload, seen, mdn_registry=registry,
                               max_size=int(cfg["max_size"]), max_decompressed_size=int(cfg["max_decompressed_size"]),
                               workdir=folder / "work", mdn_only=mdn_only)
        try:
            server = receiver.serve(str(cfg.get("listen") or "127.0.0.1"), int(cfg["port"]))
        except OSError as exc:
            seen.close()
            raise ConfigurationError(f"as2: cannot listen on {cfg.get('listen')}:{cfg['port']}: {exc}") from exc
        server.seen_message_ids = seen  # type: ignore[attr-defined]
        self.as2_server = server
        log.info("AS2 endpoint on %s (%d partnership(s), %d more for async MDNs only)", server.url, len(partnerships),
                 len(mdn_only))
        return server

    def stop(self) -> None:
        """Graceful: no new job starts; the one running finishes the item in hand (the pipeline checks)."""
        self.stop_event.set()
        self.pipeline.stop_requested = True
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.pipeline.close()
