"""Command line: ``python -m morph_core prepare <dataset>``, ``datasets``,
``pretrain`` (the default encoder), ``adapt <dataset>`` (the encoder adapted to
a dataset's own images, then the dataset prepared with it), ``serve`` (the
dashboard, locally or as a public demo) and ``admin-secret`` (the admin
secret's hash for secrets.toml)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from morph_core.access import LOCAL_LIMITS, PUBLIC_LIMITS, hash_secret
from morph_core.data.manifest import LabelsSpec, load_manifest, resolve_path
from morph_core.dataset import (
    dataset_names,
    folder_entry,
    hdf5_entry,
    open_dataset,
    resolve_dataset,
    table_entry,
)
from morph_core.errors import MorphCoreError
from morph_core.model.weights import resolve_encoder
from morph_core.runs.background import prepare_in_background
from morph_core.settings import PROJECT_ROOT
from morph_core.training.config import AdaptConfig, PretrainConfig

logger = logging.getLogger("morph_core")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for a problem the user can fix)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except MorphCoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m morph_core", description=__doc__)
    parser.add_argument(
        "--workspace", type=Path, help="workspace root (MORPH_WORKSPACE)"
    )
    sub = parser.add_subparsers(required=True)

    p = sub.add_parser("prepare", help="catalogue -> features -> PCA -> UMAP")
    p.add_argument("dataset", nargs="?", help="manifest name (default: the demo sky)")
    p.add_argument("--folder", type=Path, help="your own folder of JPEG/PNG cutouts")
    p.add_argument("--catalog", default="catalog.csv", help="CSV in/for --folder")
    p.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="OURS=THEIRS",
        help="map a CSV column, e.g. galaxy_id=objid (repeatable)",
    )
    p.add_argument("--hdf5", type=Path, help="an HDF5 image stack (Galaxy10 format)")
    p.add_argument(
        "--features",
        type=Path,
        help="a table of precomputed features (parquet/CSV): a published "
        "representation, no images needed",
    )
    p.add_argument(
        "--cutouts",
        help="with --features: each galaxy's cutout, a URL or a path in the "
        "table's folder over its columns, e.g. "
        "'https://www.legacysurvey.org/viewer/cutout.jpg?ra={ra}&dec={dec}"
        "&layer=ls-dr10&pixscale=0.262&size=160'",
    )
    p.add_argument(
        "--feature-columns",
        metavar="PREFIX",
        help="with --features: the feature columns are PREFIX0, PREFIX1, ... "
        "(default: feat_N, pca_N or a list column 'features')",
    )
    p.add_argument(
        "--stretch",
        choices=["asinh", "lupton"],
        default="asinh",
        help="how FITS cutouts are rendered",
    )
    p.add_argument("--labels", type=Path, help="a label table (CSV/parquet) to join")
    p.add_argument("--join-on", choices=["galaxy_id", "sky"], default="galaxy_id")
    p.add_argument("--label-id", default="galaxy_id", help="its id column")
    p.add_argument("--radius", type=float, default=2.0, help="sky match, arcsec")
    p.add_argument("--weights", help="manifest weights name or .safetensors path")
    p.add_argument("--limit", type=int, help="only the first N catalogue rows")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--workers", type=int, default=0, help="image decoding processes (0: inline)"
    )
    p.set_defaults(func=_prepare)

    e = sub.add_parser(
        "embed-distributed",
        help="embed a survey's images on a Ray cluster into parquet shards",
    )
    e.add_argument(
        "source",
        type=Path,
        help="a folder of images (with its catalog.csv or not), or a CSV of "
        "galaxy_id and file (paths every node sees, or URLs)",
    )
    e.add_argument("--out", type=Path, required=True, help="a new folder for shards")
    e.add_argument(
        "--address",
        help="a running Ray cluster ('auto', 'ray://host:10001'); default: a "
        "local one on this machine's cores",
    )
    e.add_argument("--workers", type=int, default=2, help="encoder replicas")
    e.add_argument("--threads", type=int, default=1, help="CPU threads per worker")
    e.add_argument("--weights", help="manifest weights name or weights path")
    e.add_argument("--batch-size", type=int, default=64)
    e.set_defaults(func=_embed_distributed)

    d = sub.add_parser("datasets", help="list datasets and whether they are prepared")
    d.set_defaults(func=_datasets)

    t = sub.add_parser(
        "pretrain", help="train the default encoder on a synthetic training survey"
    )
    defaults = PretrainConfig()
    t.add_argument("--galaxies", type=int, default=defaults.n_galaxies)
    t.add_argument("--data-seed", type=int, default=defaults.data_seed)
    t.add_argument("--epochs", type=int, default=defaults.epochs)
    t.add_argument("--image-size", type=int, default=defaults.image_size)
    t.add_argument("--batch-size", type=int, default=defaults.batch_size)
    t.add_argument(
        "--variety",
        type=float,
        default=defaults.variety,
        help="domain randomisation of the training survey, 0-1",
    )
    t.add_argument(
        "--work", type=Path, default=Path("pretrain-work"), help="training survey"
    )
    t.add_argument(
        "--out", type=Path, help="weights folder (default: the manifest entry's)"
    )
    t.add_argument("--device", default="cpu", help="cpu, or cuda where there is one")
    t.set_defaults(func=_pretrain)

    ad = sub.add_parser(
        "adapt",
        help="adapt the encoder to a prepared dataset's own images "
        "(self-supervised, no labels), then prepare the dataset with it",
    )
    adapt_defaults = AdaptConfig()
    ad.add_argument("dataset", help="a prepared dataset with images")
    ad.add_argument(
        "--weights", help="start from (default: the encoder it was prepared with)"
    )
    ad.add_argument("--epochs", type=int, default=adapt_defaults.epochs)
    ad.add_argument(
        "--minutes",
        type=float,
        default=adapt_defaults.minutes,
        help="stop after the epoch that passes this",
    )
    ad.add_argument("--max-images", type=int, default=adapt_defaults.max_images)
    ad.add_argument("--batch-size", type=int, default=adapt_defaults.batch_size)
    ad.add_argument(
        "--anchor",
        type=float,
        default=adapt_defaults.anchor,
        help="how strongly features stay near the starting encoder's (0: free)",
    )
    ad.add_argument(
        "--no-prepare", action="store_true", help="only save the adapted encoder"
    )
    ad.set_defaults(func=_adapt)

    v = sub.add_parser("serve", help="run the dashboard (local, or a public demo)")
    v.add_argument(
        "--public", action="store_true", help="public demo mode (MORPH_MODE=public)"
    )
    v.add_argument("--address", default="127.0.0.1", help="bind address")
    v.add_argument("--port", type=int, default=8501)
    v.add_argument(
        "--allow-root", action="store_true", help="serve a public demo as root"
    )
    v.set_defaults(func=_serve)

    a = sub.add_parser("admin-secret", help="hash an admin secret for secrets.toml")
    a.set_defaults(func=_admin_secret)
    return parser


# Set in the web server's environment: numpy and scipy call OpenBLAS with one
# thread. Visitors' script runs are threads of their own, and OpenBLAS's idle
# threads spin between calls: a rating click cost the server 41-47 ms of CPU
# with them and 21-27 ms without (py-spy, one rater clicking every 0.5 s).
SERVER_ENV = {"OPENBLAS_NUM_THREADS": "1"}
# A public demo's websocket messages, either way (Streamlit's default is 200 MB:
# a stranger's message that size held about twice that in the server's memory).
# The largest a page sends or receives is the explorer's map and a lasso on it,
# at most 20,000 points (tools.explorer.MAX_POINTS): 0.5 MB for 12,000.
PUBLIC_MESSAGE_MB = 16


def serve_command(public: bool, address: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the dashboard: errors in full and
    20 MB uploads locally; for a public demo no error details (errors are logged
    with an id), uploads capped by the policy, websocket messages capped at
    :data:`PUBLIC_MESSAGE_MB`, XSRF protection on."""
    limits = (PUBLIC_LIMITS if public else LOCAL_LIMITS).upload_bytes
    messages = [f"--server.maxMessageSize={PUBLIC_MESSAGE_MB}"] if public else []
    return [
        sys.executable,
        "-m",
        "morph_core.app.server",  # streamlit, its pages' modules imported first
        "run",
        str(PROJECT_ROOT / "Home.py"),
        "--server.headless=true",  # no browser to open, no first-run e-mail prompt
        f"--server.address={address}",
        f"--server.port={port}",
        f"--server.maxUploadSize={max(1, limits // 2**20)}",
        "--server.enableXsrfProtection=true",
        "--server.enableCORS=true",
        f"--client.showErrorDetails={'none' if public else 'full'}",
        "--browser.gatherUsageStats=false",
        "--runner.magicEnabled=false",  # ast in threads: see .streamlit/config.toml
        *messages,
    ]


def _serve(args: argparse.Namespace) -> int:
    if args.public and os.geteuid() == 0 and not args.allow_root:
        raise MorphCoreError(
            "a public demo should not run as root: start it as an unprivileged "
            "user (see README, Hosting a public demo), or pass --allow-root"
        )
    env = os.environ | SERVER_ENV | {"MORPH_MODE": "public" if args.public else "local"}
    if args.workspace:
        env["MORPH_WORKSPACE"] = str(args.workspace.resolve())
    manifest = load_manifest()
    first = [manifest.first_look_dataset] if manifest.first_look_dataset else []
    started = (
        []
        if args.public
        else prepare_in_background(
            [
                open_dataset(n, args.workspace)
                for n in [*first, manifest.default_dataset]
            ]
        )
    )
    if started:
        names = ", then ".join(started)
        print(f"Preparing {names} in the background: Home shows how far.")
    command = serve_command(args.public, args.address, args.port)
    print(f"Open http://{args.address}:{args.port} in a browser.", flush=True)
    os.execve(sys.executable, command, env)


def _admin_secret(args: argparse.Namespace) -> int:
    secret = getpass.getpass("Admin secret (12 characters or more): ")
    print(f'admin_secret_hash = "{hash_secret(secret)}"')
    print("# put this line in .streamlit/secrets.toml on the server", file=sys.stderr)
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from morph_core.model.encoder import preprocess_files  # torch
    from morph_core.training.pretrain import WEIGHTS_NAME, pretrain, training_survey

    out = args.out or resolve_path(load_manifest().weight(WEIGHTS_NAME).folder)
    try:
        config = PretrainConfig(
            n_galaxies=args.galaxies,
            data_seed=args.data_seed,
            epochs=args.epochs,
            image_size=args.image_size,
            batch_size=args.batch_size,
            variety=args.variety,
        )
    except ValueError as e:
        raise MorphCoreError(str(e)) from e
    start = time.perf_counter()
    with tqdm(desc=" render", unit="gal") as bar:
        catalog = training_survey(config, args.work, _tqdm_progress(bar))
    with tqdm(desc="   load", unit="img") as bar:
        images = preprocess_files(
            list(catalog["file"]), config.spec(), _tqdm_progress(bar)
        )
    with tqdm(desc="  train", unit="step") as bar:
        record = pretrain(
            config,
            catalog,
            images,
            out,
            args.device,
            _tqdm_progress(bar),
            on_epoch=lambda r: tqdm.write(
                f"epoch {r['epoch']}: train {r['train_loss']:.4f} "
                f"val {r['val_loss']:.4f} ({r['seconds']:.0f}s)"
            ),
        )
    minutes = (time.perf_counter() - start) / 60
    print(f"Saved {out} (best epoch {record['best_epoch']}, {minutes:.1f} min)")
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from morph_core.training.adapt import adapt_dataset  # torch

    dataset = open_dataset(args.dataset, args.workspace)
    if not dataset.is_prepared:
        raise MorphCoreError(
            f"{args.dataset} is not prepared: python -m morph_core prepare "
            f"{args.dataset}, then adapt"
        )
    spec = resolve_encoder(args.weights, load_manifest(), dataset.encoder_spec())
    config = AdaptConfig(
        epochs=args.epochs,
        minutes=args.minutes,
        max_images=args.max_images,
        batch_size=args.batch_size,
        anchor=args.anchor,
    )
    command = (
        f"python -m morph_core adapt {args.dataset} --epochs {config.epochs} "
        f"--minutes {config.minutes:g} --max-images {config.max_images} "
        f"--batch-size {config.batch_size} --anchor {config.anchor:g}"
        + (f" --weights {args.weights}" if args.weights else "")
    )
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.setdefault(stage, tqdm(total=total, desc=f"{stage:>6}"))
        bar.update(done - bar.n)

    try:
        folder = adapt_dataset(
            dataset,
            spec,
            config,
            command,
            progress,
            on_epoch=lambda r: tqdm.write(
                f"epoch {r['epoch']}: loss {r['loss']:.4f}, view matching "
                f"{r['view_matching']:.1%} ({r['seconds']:.0f}s)"
            ),
        )
    finally:
        for bar in bars.values():
            bar.close()
    print(f"Saved the adapted encoder and its model card in {folder}")
    if args.no_prepare:
        return 0
    workspace = ["--workspace", str(args.workspace)] if args.workspace else []
    return main([*workspace, "prepare", args.dataset, "--weights", str(folder)])


def _tqdm_progress(bar: tqdm):
    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update


def _prepare(args: argparse.Namespace) -> int:
    from morph_core.pipeline.prepare import prepare

    manifest = load_manifest()
    labels = None
    if args.labels:
        labels = LabelsSpec(
            file=str(args.labels.resolve()),
            on=args.join_on,
            id_column=args.label_id,
            radius_arcsec=args.radius,
        )
    if args.folder:
        columns = dict(_pair(c) for c in args.column)
        name = args.dataset or args.folder.resolve().name
        entry = folder_entry(
            name, args.folder, args.catalog, columns, args.stretch, labels
        )
    elif args.hdf5:
        entry = hdf5_entry(args.dataset or args.hdf5.stem, args.hdf5, labels)
    elif args.features:
        entry = table_entry(
            args.dataset or args.features.stem,
            args.features,
            args.cutouts,
            dict(_pair(c) for c in args.column),
            args.feature_columns,
            args.weights if args.weights in manifest.weights else None,
            labels,
        )
    else:
        entry = resolve_dataset(
            args.dataset or manifest.default_dataset, manifest, args.workspace
        )
    if args.cutouts and not args.features:
        raise MorphCoreError("--cutouts goes with --features (a table of features)")
    spec = resolve_encoder(args.weights, manifest)
    dataset = open_dataset(entry.name, args.workspace)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(
            stage, tqdm(total=total, desc=f"{stage:>7}", leave=True)
        )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    try:
        summary = prepare(
            entry,
            dataset,
            spec,
            limit=args.limit,
            batch_size=args.batch_size,
            num_workers=args.workers,
            progress=progress,
        )
    finally:
        for bar in bars.values():
            bar.close()
    print(f"\nPrepared {summary.dataset!r} in {dataset.path}")
    print(f"  galaxies   {summary.n_galaxies}")
    print(f"  embedded   {summary.n_embedded} new ({summary.encoder})")
    variance = ", ".join(
        f"PCA-{k} {v:.1%}" for k, v in summary.variance_explained.items()
    )
    print(f"  variance   {variance}")
    print(f"  skipped    {len(summary.skipped)}")
    for reason, n in summary.skipped["reason"].value_counts().head(10).items():
        print(f"    {n:6d} x {reason}")
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in summary.seconds.items())
    print(f"  seconds    {seconds} (total {sum(summary.seconds.values()):.1f}s)")
    return 0


def _embed_distributed(args: argparse.Namespace) -> int:
    from morph_core.pipeline.distributed import embed_distributed

    spec = resolve_encoder(args.weights, load_manifest())
    start = time.perf_counter()
    n = embed_distributed(
        args.source,
        args.out,
        spec,
        args.address,
        args.workers,
        args.threads,
        args.batch_size,
    )
    print(
        f"Embedded {n} galaxies into {args.out} in {time.perf_counter() - start:.0f} s"
        f" ({spec.fingerprint()}).\nNext: python -m morph_core prepare <name> "
        f"--features {args.out}"
    )
    return 0


def _datasets(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    for name in dataset_names(manifest, args.workspace):
        summary = open_dataset(name, args.workspace).summary()
        state = (
            f"{summary['n_galaxies']} galaxies prepared" if summary else "not prepared"
        )
        print(f"{name:20s} {state}")
    return 0


def _pair(text: str) -> tuple[str, str]:
    ours, sep, theirs = text.partition("=")
    if not sep or not ours or not theirs:
        raise MorphCoreError(
            f"--column needs OURS=THEIRS, e.g. galaxy_id=objid, not {text!r}"
        )
    return ours, theirs
