"""`dicec k8s ...` and `dicec compose ...`: regenerate (or `--check`) the deployment files.

Every command validates the pools file first: a bad one is refused before any file is
written. `--check` writes nothing and exits 1 when the committed files differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from dicec.errors import DicecError
from scripts.cli.errors import EXIT_REFUSED, fail
from scripts.deploy.common import DEFAULT_DEPLOY_POOLS, GeneratedSet, load_deploy_pools

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Deployment files generated from the pools file and the catalogue.",
)
k8s_app = typer.Typer(
    no_args_is_help=True, help="Kubernetes manifests from the catalogue and pools."
)
compose_app = typer.Typer(no_args_is_help=True, help="docker-compose.yml from the pools file.")
app.add_typer(k8s_app, name="k8s")
app.add_typer(compose_app, name="compose")

EXIT_DRIFT = 1
EXIT_BAD_INPUT = EXIT_REFUSED

CheckOption = Annotated[
    bool, typer.Option("--check", help="write nothing; exit 1 if the committed files differ")
]
PoolsOption = Annotated[
    str | None,
    typer.Option(
        "--pools", help=f"pools file (path or shipped name; default {DEFAULT_DEPLOY_POOLS!r})"
    ),
]
RootOption = Annotated[Path, typer.Option("--root", help="repository root to write under")]


def _run(make: Callable[[], GeneratedSet], check: bool, root: Path) -> None:
    try:
        generated = make()
    except DicecError as exc:
        fail(exc, EXIT_BAD_INPUT)
    if check:
        problems = generated.drift(root)
        for line in problems:
            typer.echo(f"drift: {line}", err=True)
        if problems:
            typer.echo("run the same command without --check to regenerate", err=True)
            raise typer.Exit(EXIT_DRIFT)
        typer.echo(f"{len(generated.files)} generated files up to date")
        return
    changed = generated.write(root)
    for path in changed:
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(generated.files)} files, {len(changed)} changed")


@k8s_app.command("functions")
def k8s_functions(check: CheckOption = False, root: RootOption = Path(".")) -> None:
    """The Function CRD and one Function resource per catalogue function."""
    from scripts.deploy.functions import function_files

    _run(function_files, check, root)


@k8s_app.command("pools")
def k8s_pools(
    pools: PoolsOption = None, check: CheckOption = False, root: RootOption = Path(".")
) -> None:
    """Pool Deployments, the GPU overlay and the KEDA ScaledObjects."""
    from scripts.deploy.k8s_pools import pool_files

    def make() -> GeneratedSet:
        loaded, source = load_deploy_pools(pools)
        return pool_files(loaded, source)

    _run(make, check, root)


@compose_app.command("generate")
def compose_generate(
    pools: PoolsOption = None, check: CheckOption = False, root: RootOption = Path(".")
) -> None:
    """docker-compose.yml and the pools files its services mount."""
    from scripts.deploy.compose import compose_files

    def make() -> GeneratedSet:
        loaded, source = load_deploy_pools(pools)
        return compose_files(loaded, source)

    _run(make, check, root)


if __name__ == "__main__":
    app()
