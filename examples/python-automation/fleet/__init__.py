"""Fleet automation over Keyward: provision service accounts from a file, rotate tokens.

Run as ``python -m fleet provision FILE`` and ``python -m fleet rotate --tenant T
--within-days N --out FILE``; or call :func:`provision.plan` / :func:`provision.apply` and
:func:`rotate.expiring` / :func:`rotate.rotate` with an engine of your own.
"""
