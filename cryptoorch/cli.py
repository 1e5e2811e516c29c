"""`cryptoorch`: the operator's commands. Each reaches the broker and databases of a running
`cryptoorch up` in this folder, or those named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL.

Each command lives in its own `*_cmd.py`; this module only mounts them."""

from __future__ import annotations

import typer

from cryptoorch import (
    admin_cmd,
    audit_cmd,
    check_cmd,
    controls_cmd,
    dlq_cmd,
    killswitch_cmd,
    ledger_cmd,
    migrate_cmd,
    outbox_cmd,
    replay_cmd,
    status_cmd,
    up_cmd,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n\n")[0])

app.command("up")(up_cmd.up_command)
app.command("migrate")(migrate_cmd.migrate_command)
app.command("status")(status_cmd.status_command)
app.add_typer(admin_cmd.app, name="admin")
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(outbox_cmd.app, name="outbox")
app.command("check")(check_cmd.check_command)
app.command("controls")(controls_cmd.controls_command)
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(replay_cmd.replay_app, name="replay")
app.add_typer(killswitch_cmd.app, name="kill-switch")
app.add_typer(audit_cmd.app, name="audit", help="The hash-chained audit trail.")
app.command("trace")(audit_cmd.trace_command)


def main() -> None:
    app(prog_name="cryptoorch")


if __name__ == "__main__":
    main()
