"""Email against a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS, AUTH, failures."""

import datetime as dt
import email
import io
import socket
import ssl
from email import policy

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from support import SMTP_CANARY, run_cli

import generect_reports as g
from generect_reports.deliver import smtp as smtp_delivery
from generect_reports.errors import DeliveryError, InputError
from generect_reports.render.email import message as mail


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"finance"
        and auth_data.password == SMTP_CANARY.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    ctl = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="module")
def report():
    return g.build_report(g.load_sample(), "2026-10")


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def check_message(msg, rep, *, cli: bool = False):
    # The CLI adds the report's sections (the sample's October is over its plan limit); a report
    # built by the library alone has none, so no flag.
    # It also values the credits from the sample's invoices: the booked cost heads the money.
    flag = "[over limit] " if cli else ""
    booked = ", booked cost $660.45" if cli else ""
    assert (
        msg["Subject"]
        == flag + "Generect usage October 2026: 33,441 credits (+11.9% vs September)" + booked
    )
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    f = rep.formats
    for row in rep.operations.itertuples(index=False):
        assert row.operation in text and f.credits(row.credits) in text
        # operation names may wrap after an underscore on a phone (<wbr>)
        assert row.operation.replace("_", "_<wbr>") in html and f.credits(row.credits) in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"].strip("<>") in html
    assert images[0].get_content().startswith(b"\x89PNG")
    attachments = {p.get_filename(): p for p in msg.iter_attachments()}
    xlsx = attachments["generect-usage-2026-10.xlsx"]
    assert (
        xlsx.get_content_type()
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.get_content()))
    assert wb.sheetnames[0] == "Summary"
    pdf = attachments["generect-usage-2026-10.pdf"]
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF")


def test_cli_delivers_to_local_smtp(smtp, report, tmp_path):
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--to",
        "b@example.com",
        "--cc",
        "c@example.com",
        "--from",
        "reports@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
    )
    assert out.returncode == 0, out.stderr
    ((mail_from, rcpts, raw),) = smtp.messages
    assert mail_from == "reports@example.com" and rcpts == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    msg = parse(raw)
    check_message(msg, report, cli=True)
    assert msg["Cc"] == "c@example.com"


def test_dry_run_writes_the_same_message(report, tmp_path):
    eml = tmp_path / "m.eml"
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        str(eml),
    )
    assert out.returncode == 0, out.stderr
    check_message(parse(eml.read_bytes()), report, cli=True)


def test_config_file_keeps_the_cron_line_short(smtp, tmp_path):
    cfg = tmp_path / "generect.toml"
    cfg.write_text(
        f'[email]\nto = ["a@example.com"]\nfrom = "r@example.com"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {smtp.port}\nsmtp_security = "none"\nsmtp_user = "finance"\n'
    )
    out = run_cli(
        "email", "--sample", "--config", str(cfg), env={"GENERECT_SMTP_PASSWORD": SMTP_CANARY}
    )
    assert out.returncode == 0, out.stderr
    assert len(smtp.messages) == 1
    cfg.write_text('[email]\nsmtp_password = "x"\n')
    assert run_cli("email", "--sample", "--config", str(cfg)).returncode == 2


def test_wrong_password_exit_4_and_no_leak(smtp):
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
        "--smtp-user",
        "finance",
        "-v",
        env={"GENERECT_SMTP_PASSWORD": "wrong-" + SMTP_CANARY},
    )
    assert out.returncode == 4 and "login as 'finance' was refused" in out.stderr
    assert SMTP_CANARY not in out.stderr + out.stdout and smtp.messages == []


def test_rejected_recipient_is_not_reported_as_sent(smtp):
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "reject@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
    )
    assert (
        out.returncode == 4
        and "refused" in out.stderr
        and "sent" not in out.stderr.replace("nothing was sent", "")
    )
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "reject@example.com",
        "--to",
        "ok@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
    )
    assert out.returncode == 4 and "reject@example.com" in out.stderr


def test_unreachable_server_exit_4():
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(free_port()),
        "--smtp-security",
        "none",
    )
    assert out.returncode == 4 and "cannot reach SMTP server" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "not-an-address"],
        ["--to", "a@example.com\r\nBcc: x@evil.example"],
        ["--to", "a@example.com", "--from", "bad"],
        ["--to", "a@example.com", "--smtp-security", "tls13"],
    ],
)
def test_invalid_options_exit_2(args):
    base = ["email", "--sample", "--smtp-host", "127.0.0.1"]
    if "--from" not in args:
        base += ["--from", "r@example.com"]
    out = run_cli(*base, *args)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def tls_controller(tls_files, **options):
    """A started aiosmtpd server using the self-signed certificate: (controller, inbox, port)."""
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    key_name = "ssl_context" if options.pop("implicit", False) else "tls_context"
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, **{key_name: ctx}, **options)
    ctl.start()
    return ctl, inbox, port


def test_starttls_with_self_signed_certificate(tls_files, report):
    cert, _ = tls_files
    ctl, inbox, port = tls_controller(tls_files, require_starttls=True, authenticator=authenticator)
    try:
        msg = mail.build_message(report, to=["a@example.com"], sender="r@example.com")
        settings = smtp_delivery.SmtpSettings(
            host="127.0.0.1",
            port=port,
            security="starttls",
            user="finance",
            password=SMTP_CANARY,
            cafile=str(cert),
        )
        smtp_delivery.send_message(msg, settings)
        assert len(inbox.messages) == 1
        check_message(parse(inbox.messages[0][2]), report)
        # without trusting the certificate, TLS fails cleanly
        with pytest.raises(DeliveryError, match="TLS"):
            smtp_delivery.send_message(
                msg, smtp_delivery.SmtpSettings(host="127.0.0.1", port=port, security="starttls")
            )
        with pytest.raises(DeliveryError, match="refused"):
            smtp_delivery.send_message(
                msg,
                smtp_delivery.SmtpSettings(
                    host="127.0.0.1",
                    port=port,
                    security="starttls",
                    user="finance",
                    password="nope",
                    cafile=str(cert),
                ),
            )
    finally:
        ctl.stop()


def test_implicit_tls_ssl_mode(tls_files, report):
    cert, _ = tls_files
    ctl, inbox, port = tls_controller(tls_files, implicit=True, server_hostname="127.0.0.1")
    try:
        msg = mail.build_message(report, to=["a@example.com"], sender="r@example.com")
        smtp_delivery.send_message(
            msg,
            smtp_delivery.SmtpSettings(
                host="127.0.0.1", port=port, security="ssl", cafile=str(cert)
            ),
        )
        assert len(inbox.messages) == 1
    finally:
        ctl.stop()


def test_size_guard_fails_before_connecting(report):
    with pytest.raises(InputError, match="over the"):
        mail.build_message(
            report, to=["a@example.com"], sender="r@example.com", max_attachment_bytes=1000
        )


def test_partial_month_warning_in_subject_and_body():
    from helpers import frame

    rows = [(f"2026-04-{d:02d}", "a", 10.0) for d in range(1, 31)] + [
        (f"2026-05-{d:02d}", "a", 12.0) for d in range(1, 11)
    ]
    rep = g.build_report(frame(rows, fetched_at="2026-05-11 09:30"), "2026-05")
    msg = mail.build_message(rep, to=["a@example.com"], sender="r@example.com")
    assert msg["Subject"].startswith(
        "[partial month] Generect usage May 2026: 120 credits (+20.0% vs April, first 10 days)"
    )
    assert "WARNING: May 2026 is not over" in msg.get_body(("plain",)).get_content()


def test_html_escapes_operation_names():
    from helpers import frame

    evil = '<script>alert("x")</script>'
    rep = g.build_report(
        frame(
            [("2026-04-01", evil, 1.0), ("2026-05-01", evil, 2.0)], fetched_at="2026-06-01 00:00"
        ),
        "2026-05",
    )
    msg = mail.build_message(rep, to=["a@example.com"], sender="r@example.com")
    html = msg.get_body(("html",)).get_content()
    assert evil not in html and "&lt;script&gt;" in html
    assert evil in msg.get_body(("plain",)).get_content()
