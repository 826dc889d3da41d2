"""``python -m hub.canonical``: regenerates the shipped JSON Schema files from the code."""

from hub.canonical.schema import write_schemas

for path in write_schemas():
    print(path)
