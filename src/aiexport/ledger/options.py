"""Command-line options of the audit record, shared by every command that can put its answers on
record (`classify`, `check`, `screen`, `licences draw`, `budgets draw`, and any later one).

    from aiexport.ledger.options import RecordOpt, UserOpt
    def weights(..., record: RecordOpt = False, user: UserOpt = None): ...
        if record:
            from aiexport.cli_ledger import record_answers
            record_answers("weights", inputs, outputs, user=user)   # one list entry per answer

(This module imports nothing from `aiexport.cli`, so cli.py can import it at the top.)
"""

from __future__ import annotations

from typing import Annotated

import typer

RecordOpt = Annotated[bool, typer.Option("--record", help="Put every answer on the audit record (input, output, rulebook hash, "
                                                          "list snapshot hash, user, time; hash-chained): see `aiexport audit`.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="With --record: complete a batch that was interrupted (killed, crashed); "
                                                          "lines already on record are not recorded again.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Who is answerable for what is recorded (default: AIEXPORT_USER, "
                                                           "else the login name).")]
