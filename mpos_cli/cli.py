"""The ``mpos`` command: the Typer app and the one handler that maps errors
to exit statuses (SPEC §6). Only typer is imported here; every command
imports what it needs inside its function, so ``mpos --help`` stays fast."""

from __future__ import annotations

import sys

import typer

from mpos_cli import __version__
from mpos_cli.commands import GROUPS, register_all, register_group


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpos {__version__}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q",
        help="No progress or notices on stderr (errors still); also after the command: mpos settle --quiet.",
    ),
) -> None:
    """A command-line mobile point of sale: take card payments, keep a journal, close the day."""
    if quiet:
        from mpos_cli.commands.app import App

        App.of(ctx).quiet = True


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The ``mpos`` Typer app. When ``argv`` names a command group, only that
    group is built: typer turns every registered command's signature into
    click parameters at each start, and building all of them costs a one-shot
    ``mpos charge`` about 15 ms it never uses. Anything else (``--help``, a
    typo, shell completion, no words at all) gets every group, so help and
    "no such command" read as always."""
    app = typer.Typer(
        name="mpos",
        help="A command-line mobile point of sale: take card payments, keep a journal, close the day.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    named = _group_named(argv or [])
    if named is None:
        register_all(app)
    else:
        register_group(app, named)
    return app


def _group_named(argv: list[str]) -> str | None:
    """The group the command line names (its first word), if it is one."""
    words = [arg for arg in argv if not arg.startswith("-")]
    if not words or words[0] not in GROUPS or any(arg in ("-h", "--help") for arg in argv[: argv.index(words[0])]):
        return None
    return words[0]


def __getattr__(name: str):
    # ``mpos_cli.cli.app``: the whole app, for tools that walk every command
    # (the documentation tests, completion scripts); built when first asked.
    if name == "app":
        globals()["app"] = full = build_app()
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A Ctrl-C outside a sale (a sale says "cancelled, nothing was charged" itself):
# every other command is safe to stop anywhere, as a crash is.
INTERRUPTED = "interrupted; nothing was charged, the journal is consistent (mpos recover finishes anything open)"


def run(argv: list[str] | None = None, env=None, *, interrupts=None) -> int:
    """Run one command and return its exit status; never raises (but for SystemExit).

    For the length of the command, SIGINT goes to the App's ``Interrupts``
    (mpos_cli.interrupts: what Ctrl-C means at each moment); the previous
    handler is put back afterwards."""
    from mpos_cli import errorlog
    from mpos_cli.commands.app import App
    from mpos_cli.env import Environment
    from mpos_cli.drivers.errors import ReaderError
    from mpos_cli.errors import ExitStatus, MposError, exit_status_of, one_line_of

    env = env or Environment()
    application = App(env, interrupts=interrupts)
    restore = _take_sigint(application.interrupts)
    argv = _lift_quiet(list(sys.argv[1:] if argv is None else argv))
    try:
        try:
            application.interrupts.started()
            result = build_app(argv)(args=argv, prog_name="mpos", standalone_mode=False, obj=application)
        finally:
            application.interrupts.closing()  # the outcome is known: Ctrl-C from here changes nothing
        code = int(result) if isinstance(result, int) else ExitStatus.SUCCESS
        if code == ExitStatus.INTERRUPTED and application.interrupts.stopped:
            application.error_line(INTERRUPTED)  # typer turned the Ctrl-C into exit 130
        return code
    except (MposError, ReaderError) as exc:
        if env.debug:
            import traceback

            traceback.print_exc(file=env.stderr)
        application.error_line(one_line_of(exc))
        errorlog.record(env, argv, one_line_of(exc), exit_status_of(exc))
        return int(exit_status_of(exc))
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        application.error_line("interrupted")
        return int(ExitStatus.INTERRUPTED)
    except typer.TyperException as exc:
        # Bad option, missing argument, bad choice: usage errors (exit 2).
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            pass  # typer has printed the group's help already
        else:
            where = f"mpos {ctx.command_path.split(' ', 1)[1]} --help" if ctx and " " in ctx.command_path else "mpos --help"
            application.error_line(" ".join(exc.format_message().split()) + f" (see {where})")
        return int(ExitStatus.USAGE)
    except KeyboardInterrupt:
        application.error_line(INTERRUPTED)
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:  # the last line of defence: one line, traceback on demand
        if env.debug:
            raise
        application.error_line(f"internal error: {type(exc).__name__}: {exc} (MPOS_DEBUG=1 shows the traceback)")
        errorlog.record(env, argv, f"internal error: {type(exc).__name__}: {exc}", ExitStatus.ERROR)
        return int(ExitStatus.ERROR)
    finally:
        application.close()
        restore()


def _take_sigint(interrupts):
    """Install ``interrupts.handle`` for SIGINT; returns what puts the old one back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals are the main thread's; a test may run us elsewhere
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    return lambda: signal.signal(signal.SIGINT, previous)


def _lift_quiet(argv: list[str]) -> list[str]:
    """``--quiet`` is a root option (stored on the App); ``mpos settle --quiet``
    is what people type, so it is lifted to the front from anywhere before
    ``--``. (A value that is literally ``--quiet`` is written ``--note=--quiet``.)"""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--quiet" not in argv[:end]:
        return argv
    return ["--quiet"] + [arg for i, arg in enumerate(argv) if not (i < end and arg == "--quiet")]
