"""`dicec`: the command line of the system (typer). Sub-apps live next to their rooms."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from dicec.errors import DicecError
from dicec.settings import get_settings
from scripts.cli.errors import GuardedGroup, fail

app = typer.Typer(
    cls=GuardedGroup,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    help="DiCE-C on Celery: vision programs over per-function worker pools.",
)
functions_app = typer.Typer(no_args_is_help=True, help="The runtime registry of functions.")
checkpoints_app = typer.Typer(no_args_is_help=True, help="Model checkpoints.")
images_app = typer.Typer(no_args_is_help=True, help="Demo input images.")
app.add_typer(functions_app, name="functions")
app.add_typer(checkpoints_app, name="checkpoints")
app.add_typer(images_app, name="images")
err = Console(stderr=True)


def small_checkpoint_banner() -> None:
    """Say plainly when answers come from random-weight checkpoints."""
    settings = get_settings()
    if settings.checkpoints == "small":
        err.print(
            "[bold yellow]Using SMALL OFFLINE CHECKPOINTS[/] (real architectures, random "
            "weights): the code path is the real one, the answers mean nothing."
        )


@app.command()
def worker(
    pool: Annotated[str | None, typer.Option(help="pool name in the pools file")] = None,
    monolith: Annotated[bool, typer.Option(help="a baseline node hosting every model")] = False,
    pools: Annotated[str | None, typer.Option(help="pools file (path or shipped name)")] = None,
    loglevel: str = "INFO",
    check_ready: Annotated[
        bool, typer.Option(help="exit 0 iff this host's worker is ready")
    ] = False,
) -> None:
    """Start a Celery worker serving one pool's function queues."""
    from worker_models.lifecycle import ready_file
    from worker_models.worker import run_worker

    if check_ready:
        raise typer.Exit(0 if ready_file().exists() else 1)
    if (pool is None) == (not monolith):
        fail(DicecError("give exactly one of --pool NAME or --monolith"))
    small_checkpoint_banner()
    try:
        if pool is None:
            from orchestrator.batch.monolith import run_monolith_worker

            run_monolith_worker(pools or _pools_from_settings(), get_settings(), loglevel)
        else:
            run_worker(pool, pools or _pools_from_settings(), get_settings(), loglevel)
    except DicecError as exc:
        fail(exc)


def _pools_from_settings() -> str | None:
    pools_file = get_settings().pools_file
    return str(pools_file) if pools_file else None


@functions_app.command("list")
def functions_list() -> None:
    """Each function with its live pools (offline when none serves it)."""
    from rich.table import Table

    from dicec.redis_conn import sync_client
    from worker_models.registry import catalogue_functions, list_functions

    live = {f.name: f for f in list_functions(sync_client())}
    table = Table("function", "status", "pools", "workers", "documentation")
    for info in catalogue_functions():
        found = live.get(info.name)
        status = "[green]online[/]" if found and found.online else "[red]offline[/]"
        table.add_row(
            info.name,
            status,
            ", ".join(found.pools) if found else "-",
            str(found.workers if found else 0),
            info.documentation[:70],
        )
    Console().print(table)


@functions_app.command("show")
def functions_show(
    name: str, output: Annotated[str, typer.Option("-o", "--output")] = "yaml"
) -> None:
    """A function in the `Function` resource form (documentation and JSON schemas)."""
    from dicec.redis_conn import sync_client
    from worker_models.catalogue import get_spec
    from worker_models.registry import get_function, info_from_spec

    try:
        try:
            info = get_function(sync_client(), name)
        except DicecError:
            info = info_from_spec(get_spec(name))  # known but never published: offline
    except DicecError as exc:
        fail(exc)
    resource = info.as_function_resource()
    if output == "json":
        typer.echo(json.dumps(resource, indent=2))
    else:
        typer.echo(yaml.safe_dump(resource, sort_keys=False, width=10_000))


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise typer.BadParameter(f"--param {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command()
def call(
    name: str,
    image: Annotated[Path | None, typer.Option(help="image file")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (JSON values)")
    ] = None,
    timeout: float = 60.0,
) -> None:
    """Send one call through its queue and print the result (or the error) as JSON."""
    from worker_models.client import SyncCaller
    from worker_models.images import load_image_file

    small_checkpoint_banner()
    kwargs = dict(_parse_param(p) for p in param or [])
    try:
        if image is not None:
            kwargs["image"] = load_image_file(image)
        reply = SyncCaller().call_reply(name, timeout_s=timeout, **kwargs)
    except DicecError as exc:
        fail(exc)
    typer.echo(reply.model_dump_json(indent=2))
    if not reply.ok:
        raise typer.Exit(1)


@checkpoints_app.command("build")
def checkpoints_build(
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    force: bool = False,
    seed: int = 0,
    image_size: Annotated[
        int,
        typer.Option(
            help="image side in px: 64 (tests, the default) or 224 (real-model cost, for "
            "benchmarks; built into <checkpoint dir>-224 unless --out says otherwise)"
        ),
    ] = 64,
) -> None:
    """Build small random-weight checkpoints offline from the real architectures."""
    from worker_models.checkpoints import build_small_checkpoints, default_dir_for

    folder = out or default_dir_for(get_settings().checkpoint_dir, image_size)
    try:
        built = build_small_checkpoints(folder, seed=seed, force=force, image_px=image_size)
    except DicecError as exc:
        fail(exc)
    for fn, path in built.items():
        typer.echo(f"{fn}: {path}")
    err.print("These checkpoints have RANDOM WEIGHTS: their answers mean nothing.")


@images_app.command("generate")
def images_generate(
    out: Annotated[Path, typer.Option("-o", "--out")] = Path("var/claims-images"),
    count: int = 30,
    seed: int = 0,
) -> None:
    """Write synthetic accident-scene images for the claims demo."""
    from orchestrator.batch.claims_images import generate_claims_images

    paths = generate_claims_images(out, count, seed)
    typer.echo(f"wrote {len(paths)} images to {out}")


@app.command()
def run(
    program: Path,
    image: Annotated[Path, typer.Option(help="image file")],
    pools: Annotated[str | None, typer.Option(help="pools file to start locally")] = None,
    local_pools: Annotated[bool, typer.Option(help="start the pools as local processes")] = False,
) -> None:
    """Run one program on one image through the system; print what it printed and returned."""
    from orchestrator.batch.oneshot import run_one

    small_checkpoint_banner()
    try:
        outcome = asyncio.run(run_one(program, image, get_settings(), pools, local_pools))
    except DicecError as exc:
        fail(exc)
    for line in outcome.printed:
        typer.echo(line)
    if outcome.ok:
        typer.echo(f"returned: {json.dumps(outcome.value)}")
    else:
        err.print(f"[bold red]task failed:[/] {outcome.error_type}: {outcome.error}")
        raise typer.Exit(1)


@app.command()
def demo(
    tasks: int = 1000, seed: int = 7, json_out: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The main job: the claims batch end to end on this machine (starts what it needs)."""
    from scripts.submit_batch import demo_main

    sys.exit(demo_main(tasks=tasks, seed=seed, json_out=json_out))


def _mount_subapps() -> None:
    from scripts.cli.batch import app as batch_app
    from scripts.cli.codegen import app as codegen_app
    from scripts.cli.cost import app as cost_app
    from scripts.cli.deploy import compose_app, k8s_app

    app.add_typer(batch_app, name="batch")
    app.add_typer(codegen_app, name="codegen", help="Query -> serial -> distributed programs.")
    app.add_typer(k8s_app, name="k8s", help="Kubernetes manifests from the catalogue and pools.")
    app.add_typer(compose_app, name="compose", help="docker-compose.yml from the pools file.")
    for command in cost_app.registered_commands:
        app.registered_commands.append(command)


_mount_subapps()

if __name__ == "__main__":
    app()
