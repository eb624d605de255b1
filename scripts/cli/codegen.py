"""`dicec codegen ...`: generate, distribute, verify."""

from __future__ import annotations

from pathlib import Path

import typer

from codegen.explain import explain
from codegen.generate import generate as generate_program
from codegen.generate import load_functions
from codegen.llm import LLMClient
from codegen.rewrite import distribute_verified
from codegen.verify import DEFAULT_SEEDS
from codegen.verify import verify as verify_programs
from dicec.errors import DicecError
from dicec.settings import Settings
from scripts.cli.errors import EXIT_REFUSED, fail

app = typer.Typer(
    help="Query -> serial program -> verified distributed program.", no_args_is_help=True
)

EXIT_NOT_EQUIVALENT = 1
EXIT_ERROR = EXIT_REFUSED
OFFLINE_HELP = "Use the catalogue compiled into this package instead of the live registry."


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _write(path: Path, source: str) -> None:
    try:
        path.write_text(source)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def _llm_settings_help() -> str:
    """The LLM settings with their defaults, read from dicec.settings (their one place)."""
    fields = Settings.model_fields
    named = ", ".join(
        f"DICEC_{name.upper()} (default {fields[name].default})"
        for name in ("llm_base_url", "llm_api_key", "llm_model")
    )
    rest = ", ".join(f"DICEC_{n.upper()}" for n in fields if n.startswith("llm_"))
    return (
        f"The LLM is any OpenAI-compatible endpoint, set in the environment: {named}; all: {rest}."
    )


LLM_SETTINGS_HELP = _llm_settings_help()


@app.command(epilog=LLM_SETTINGS_HELP)
def generate(
    query: str = typer.Argument(..., help="The question to answer about each image."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the program."),
    offline_catalogue: bool = typer.Option(False, "--offline-catalogue", help=OFFLINE_HELP),
) -> None:
    """Ask the LLM for a serial program; validated, repaired a bounded number of times."""
    try:
        source = load_functions(offline_catalogue)
        typer.echo(f"function docs from {source.origin}")
        result = generate_program(query, source.functions, LLMClient())
    except DicecError as exc:
        fail(exc)
    _write(output, result.source)
    typer.echo(f"wrote {output} (valid after {result.attempts} attempt(s))")


@app.command(epilog=LLM_SETTINGS_HELP)
def distribute(
    serial: Path = typer.Argument(..., help="The serial program."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the result."),
    llm: bool = typer.Option(
        False, "--llm", help="Ask the LLM for the rewrite (used only if it verifies equivalent)."
    ),
    show_rounds: bool = typer.Option(
        False, "--explain", help="Print which calls run together, round by round."
    ),
    offline_catalogue: bool = typer.Option(False, "--offline-catalogue", help=OFFLINE_HELP),
    seeds: int = typer.Option(DEFAULT_SEEDS, help="Stand-in seeds to verify with."),
) -> None:
    """Compile a serial program into a distributed one, verified on the stand-in runtime."""
    source = _read(serial)
    try:
        functions = load_functions(offline_catalogue, fallback=True)
        if functions.notice:
            typer.echo(functions.notice)
        chosen = distribute_verified(
            source, serial.name, functions.functions, LLMClient() if llm else None, seeds
        )
    except DicecError as exc:
        fail(exc)
    for message in chosen.messages:
        typer.echo(message)
    _write(output, chosen.source)
    report = chosen.report
    typer.echo(
        f"wrote {output} (made by the {chosen.made_by}; rounds {report.rounds_serial} -> "
        f"{report.rounds_distributed} on the stand-in runtime)"
    )
    if show_rounds:
        try:
            typer.echo(explain(source, functions.functions).render("serial"))
            typer.echo(explain(chosen.source, functions.functions).render("distributed"))
        except DicecError as exc:
            fail(exc)


@app.command()
def verify(
    serial: Path = typer.Argument(..., help="The serial program."),
    distributed: Path = typer.Argument(..., help="Its distributed form."),
    offline_catalogue: bool = typer.Option(False, "--offline-catalogue", help=OFFLINE_HELP),
    seeds: int = typer.Option(DEFAULT_SEEDS, help="Stand-in seeds per image."),
) -> None:
    """Check two programs equivalent on the stand-in runtime; exit 1 if they are not."""
    serial_source, distributed_source = _read(serial), _read(distributed)
    try:
        functions = load_functions(offline_catalogue, fallback=True)
        if functions.notice:
            typer.echo(functions.notice)
        report = verify_programs(
            serial_source, distributed_source, functions=functions.functions, seeds=seeds
        )
    except DicecError as exc:
        fail(exc)
    typer.echo(report.summary())
    if not report.equivalent:
        raise typer.Exit(EXIT_NOT_EQUIVALENT)
