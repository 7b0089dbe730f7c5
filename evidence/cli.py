"""``simpul evidence build|verify``: the signed evidence pack for SPBE evaluation and Audit TIK."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from simpul.context import AppContext, pass_app
from simpul.errors import ExitCode

log = logging.getLogger(__name__)

# Audits need evidence (Pergub DKI 68/2022 Pasal 27–28; Pergub Kalteng 24/2022 Pasal 26);
# the SPBE evaluation scores what the Dinas can show.
REFS = ["Pergub DKI Jakarta 68/2022 Pasal 27–28", "Pergub Kalimantan Tengah 24/2022 Pasal 26"]


@click.group()
def evidence() -> None:
    """Evidence for SPBE evaluation and Audit TIK: one signed, self-contained folder.

    \b
    Examples:
      simpul evidence build --period 2026 --out bukti-2026 --zip
      simpul evidence verify bukti-2026
    """


@evidence.command()
@click.option("--period", required=True, metavar="YYYY|YYYY-MM", help="The year (or month) evidenced.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False),
              help="Folder to create (default: bukti-spbe-PERIOD). Never overwritten.")
@click.option("--zip", "make_zip", is_flag=True, help="Also write OUT.zip.")
@click.option("--sign-key", metavar="SECRET",
              help="Secret naming the SSH private key that signs the pack (default: the "
                   "inventory's organisation.evidence_signing_key).")
@click.option("--no-sign", is_flag=True, help="Build without a signature (checksums only).")
@click.option("--known-hosts", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="known_hosts pinning the servers' and routers' host keys.")
@click.option("--tz", default="Asia/Jakarta", show_default=True, help="Time zone of dates and months.")
@click.option("--json", "json_", is_flag=True, help="Machine-readable result on stdout.")
@pass_app
def build(app: AppContext, period: str, out: Path | None, make_zip: bool, sign_key: str | None,
          no_sign: bool, known_hosts: Path | None, tz: str, json_: bool) -> int:
    """Collect fresh implementation evidence (read-only audits and collectors) and the history of
    the period into a signed folder with index.html (ID/EN), artefacts, an operations-log extract
    with its chain verified, and SHA256SUMS signed with the Dinas's SSH key.

    Missing sources are listed as gaps with the reason; unreachable hosts are recorded as such.
    Exit 0 when the pack is built, 5 when a producer failed (the pack says which).

    \b
    Example:
      simpul evidence build --period 2026 --out /srv/bukti/bukti-2026 --zip
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from simpul.errors import ConfigError, UsageError
    from simpul.output import print_json, stdout, table
    from simpul.secrets_ref import secret_path
    from simpul.ssh import known_hosts_path

    from .model import Period, load_map
    from .pack import build as build_pack
    from .pack import now_utc
    from .producers import BuildContext

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {tz}: unknown time zone (e.g. Asia/Jakarta, Asia/Makassar)") from None
    per = Period.parse(period)
    inv = app.inventory()
    key: Path | None = None
    if not no_sign:
        name = sign_key or inv.organisation.evidence_signing_key
        if not name:
            raise ConfigError("no signing key: set organisation.evidence_signing_key in the inventory "
                              "(a secret naming an SSH private key) or give --sign-key",
                              hint="or --no-sign for checksums only")
        key = secret_path(inv, name)
    try:
        kh: Path | None = known_hosts_path(app.settings.state_dir, known_hosts)
    except ConfigError:
        kh = None
    ctx = BuildContext(inv=inv, settings=app.settings, period=per, out=Path("."), known_hosts=kh,
                       now=now_utc(), tz=tz)
    rmap = load_map()
    target = out or Path(f"bukti-spbe-{per.label}")
    with app.progress_hook("evidence", len(rmap.producers())) as bar:
        built = build_pack(ctx, rmap, target, sign_key=key, principal=inv.organisation.domain,
                           make_zip=make_zip, hooks=[bar])
    failed = sorted(n for n, e in built.evidence.items() if e.status == "failed")
    c = built.counts()
    app.record("evidence.build", str(built.path), "partial" if failed else "ok", refs=REFS,
               params={"period": per.label, "manifest_sha256": built.manifest_sha256,
                       "signed": built.signed, "requirements": c, "failed_producers": failed})
    code = ExitCode.PARTIAL if failed else ExitCode.OK
    if app.want_json(json_):
        print_json({"path": str(built.path), "zip": str(built.zip_path) if built.zip_path else None,
                    "signed": built.signed, "manifest_sha256": built.manifest_sha256, "counts": c,
                    "requirements": [{"id": r["id"], "status": r["status"]} for r in built.requirements],
                    "evidence": {n: e.to_dict() for n, e in built.evidence.items()},
                    "exit_code": int(code)})
        return int(code)
    table(f"{built.path} — {per.label}", ["requirement", "status", "title"],
          [[r["id"], r["status"], r["title"]["en"]] for r in built.requirements])
    stdout.print(f"met {c['met']}, partial {c['partial']}, gap {c['gap']}; "
                 f"{'signed' if built.signed else 'NOT signed'}; open {built.path / 'index.html'}")
    if built.zip_path:
        stdout.print(f"zip: {built.zip_path}")
    for n in failed:
        stdout.print(f"producer failed: {n}: {built.evidence[n].summary.en}")
    return int(code)


@evidence.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--allowed-signers", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="The Dinas's published allowed_signers (default: the one in the pack).")
@click.option("--json", "json_", is_flag=True, help="Machine-readable result on stdout.")
@pass_app
def verify(app: AppContext, directory: Path, allowed_signers: Path | None, json_: bool) -> int:
    """Check a pack: every file against SHA256SUMS (altered, missing, added), the signature, and
    the operations-log extract's hash chain. Exit 0 when intact, 1 otherwise.

    \b
    Example:
      simpul evidence verify bukti-spbe-2026 --allowed-signers dinas.allowed_signers
    """
    import click as _click

    from simpul.output import print_json, stdout

    from .pack import verify as verify_pack

    v = verify_pack(directory, allowed_signers)
    if app.want_json(json_):
        print_json(v.to_dict())
    elif v.ok:
        stdout.print(f"{directory}: {v.files} files intact, signature good ({v.signer})")
        if allowed_signers is None:
            stdout.print("checked against the pack's own allowed_signers: compare its key with "
                         "the one the Dinas publishes (or pass --allowed-signers)")
    else:
        for p in v.problems:
            _click.echo(f"{directory}: {p}")
        _click.echo(f"{directory}: verification FAILED ({len(v.problems)} problem(s))", err=True)
    return int(ExitCode.OK if v.ok else ExitCode.ERROR)
