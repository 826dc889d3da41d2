"""URLs of the django-pyas2 test peer: only django-pyas2's own (the receive endpoint is pyas2/as2receive/)."""

from django.urls import include, path

urlpatterns = [path("pyas2/", include("pyas2.urls"))]
