"""What the CVAT operators share: connection settings from secrets, the connection inputs, the review picker."""

from ..core.annotation import records
from ..core.annotation.connection import SECRET_KEYS, CVATSettings
from ..core.exceptions import CVATError
from . import common

CONNECTION_PARAMS = {"organization": common.STR, "verify_tls": common.BOOL}
"""The types of the connection params (see ``common.check_types``)."""


def settings(ctx):
    """Connection settings from the plugin secrets (environment variables in open-source FiftyOne)."""
    secrets = {key: ctx.secret(key) for key in SECRET_KEYS.values()}
    verify = ctx.params.get("verify_tls")
    return CVATSettings.from_secrets(
        secrets,
        organization=ctx.params.get("organization"),
        verify_tls=CVATSettings.verify_tls if verify is None else bool(verify),
    )


def warn_unless_configured(ctx, inputs, blocks: bool) -> None:
    """Says up front when the secrets do not say where CVAT is and who logs in (see ``settings``); the warning
    ``blocks`` execution unless another problem already does (the SDK raises the first problem)."""
    try:
        settings(ctx)
    except CVATError as error:
        (common.block if blocks else common.warn)(inputs, str(error), name="cvat_not_configured")


def add_connection_inputs(inputs):
    """The organization and the (explicit) TLS verification opt-out."""
    inputs.str("organization", label="CVAT organization", description="empty: your personal workspace")
    inputs.bool(
        "verify_tls",
        default=CVATSettings.verify_tls,
        label="Verify the server's TLS certificate",
        description="Turn off only for a test server with a self-signed certificate",
    )


def add_review_input(ctx, inputs, pending_only=False):
    """A dropdown of reviews; returns the chosen key (default: the newest), or None when there is none."""
    keys = records.review_keys(ctx.dataset, pending_only)
    if not keys:
        what = "with loaded corrections" if pending_only else "sent to CVAT"
        common.block(inputs, f"This dataset has no review {what} yet.")
        return None
    common.choice(inputs, "review", keys, keys[0], "Review (annotation run)", required=True)
    key = ctx.params.get("review") or keys[0]
    if key not in keys:
        common.block(inputs, f"No CVAT review '{key}' here{' with loaded corrections' * pending_only}: pick one.")
        return None
    return key
