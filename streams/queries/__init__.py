"""Every SQL statement over the domain tables, write path and read paths apart.

``scoring`` writes facts and minute sums; ``windows``, ``snapshots``, ``verify``
and ``landed`` only read. Keeping them in separate modules means a change to how
scores are read cannot quietly change what is written. Connections, literals and
migrations are ``streams.warehouse``'s.
"""
