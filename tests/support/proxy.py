"""The cuttable TCP proxy lives in the package (``cxpulse bench soak`` cuts the broker with it)."""

from streams.tools.proxy import TcpProxy

__all__ = ["TcpProxy"]
