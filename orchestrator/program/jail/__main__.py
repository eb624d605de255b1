"""The zygote's entry point: `python -m orchestrator.program.jail <control-fd> <events-fd>
<image-params-json>` (started by jail.client).

Before anything is imported, OpenSSL is kept out of the process: asyncio imports `ssl`
only if it can (a jailed program has no network to speak TLS on), and hashlib falls back
to its built-in SHA-256 without `_hashlib`. The two would add ~1.9 MB (libssl,
libcrypto) that every fork copies the page tables of.
"""

import sys

for _name in ("ssl", "_ssl", "_hashlib"):
    sys.modules[_name] = None  # type: ignore[assignment]  # "import ssl" raises ImportError

from orchestrator.program.jail.zygote import main  # noqa: E402 - after the block above

main(sys.argv)
