"""The package's typed errors, as the API layer has always exported them.

They live in `fw_asr_widgets.errors` (one module under every layer); this module re-exports
them so `from fw_asr_widgets.api.errors import RateLimitError` keeps working.
"""

from fw_asr_widgets.errors import *  # noqa: F403
from fw_asr_widgets.errors import __all__ as __all__
