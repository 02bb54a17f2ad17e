"""Generators of demo data in spec files (``generate:`` and ``patch:``), expanded into
records the rest of the tool cannot tell from hand-written ones.

Modules: ``inputs`` (what an expansion takes: plain data), ``grammar`` (generators read and
checked), ``shapes`` (key patterns, fields, pin digests), ``values`` (field definitions:
literals, templates, Faker, choices, numbers, times), ``fakes`` (Faker behind an
allowlist), ``templates`` (Jinja2 in a bounded sandbox), ``expand`` (generators → record
drafts, with pins; it runs ``context``: what an expansion knows and its problems,
``ordering``: which generators first, counts, the ceiling, ``drafts``: one record's
values, pins and entry, ``picks``: associations and random picks), ``times`` (generated
times resolved for one run), ``loading`` (the spec loader's side: sections, variables,
the cache), ``render`` (records → plain spec YAML). Faker and Jinja2 objects never leave
this package; both are imported only when a project's generators are expanded (not on a
cache hit).
"""
