"""Commands on a host over SSH (paramiko), as Jepsen's control layer runs them.

One connection per host, opened when first needed and shared by every thread (paramiko multiplexes channels
over it). The host's key must be in the user's known_hosts: an unknown or changed key refuses the connection
unless the inventory says `trust_unknown_hosts` (lab hosts), and then the key accepted is logged. Keys come
from the SSH agent or the key file the inventory names; nothing secret is logged or recorded.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko

from harness.cluster.inventory import SshAccess
from harness.errors import HarnessError, MachineError

# the first word of each command that needs root on a host: run through `sudo -n` where the inventory says
# sudo (docs/backends.md lists the sudoers lines). Everything else (the JMX and STOMP tools, reading the log)
# runs as the SSH user.
ROOT_COMMANDS = frozenset(
    {"iptables", "tc", "rm", "sh", "perl", "pkill", "systemctl", "amq-host-broker", "tee"}
)
# how long past a command's own deadline (coreutils' timeout on the host) the channel is given up on: the
# host or the network is gone, not the command slow
CHANNEL_GRACE = 15.0


class HostUnreachable(MachineError):
    """A host of the inventory could not be reached, or refused the harness's key."""


class _LoggingPolicy(paramiko.MissingHostKeyPolicy):
    """trust_unknown_hosts: accept a host key never seen, and say which one, once per host."""

    def __init__(self, log: Callable[..., None]) -> None:
        self.log = log

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.log(f"trusting {hostname}'s {key.get_name()} key {key.fingerprint} (trust_unknown_hosts)")


class SshHost:
    def __init__(
        self,
        access: SshAccess,
        known_hosts: Path | None,
        trust_unknown: bool = False,
        log: Callable[..., None] = print,
    ) -> None:
        self.access = access
        self.known_hosts = known_hosts
        self.trust_unknown = trust_unknown
        self.log = log
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- connecting
    def connect(self) -> paramiko.Transport:
        with self._lock:
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return transport
                self._client.close()
                self._client = None
            client = paramiko.SSHClient()
            if self.known_hosts is not None and self.known_hosts.exists():
                client.load_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(
                _LoggingPolicy(self.log) if self.trust_unknown else paramiko.RejectPolicy()
            )
            access = self.access
            try:
                client.connect(
                    access.host,
                    port=access.port,
                    username=access.user,
                    key_filename=str(access.identity) if access.identity else None,
                    allow_agent=access.identity is None,
                    look_for_keys=False,
                    timeout=access.connect_timeout,
                    banner_timeout=access.connect_timeout,
                    auth_timeout=access.connect_timeout,
                )
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise HostUnreachable(
                    f"{access.label}: its host key is not the one known_hosts holds ({exc.key.get_name()} "
                    f"{exc.key.fingerprint}): refused"
                ) from None
            except paramiko.SSHException as exc:
                client.close()
                hint = (
                    f"; add it to {self.known_hosts} (ssh-keyscan -p {access.port} {access.host}) or, for lab "
                    "hosts, set trust_unknown_hosts = true"
                    if "not found in known_hosts" in str(exc)
                    else ""
                )
                raise HostUnreachable(f"{access.label}: {exc}{hint}") from None
            except (TimeoutError, OSError) as exc:
                client.close()
                raise HostUnreachable(f"{access.label}: cannot connect: {exc}") from None
            transport = client.get_transport()
            assert transport is not None
            transport.set_keepalive(5)  # a host that vanished is seen within seconds, not at TCP's pace
            self._client = client
            return transport

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ----------------------------------------------------------------------------------------- commands
    def command_line(self, command: list[str], timeout: float | None, root: bool | None = None) -> str:
        """The shell line the host runs: a deadline there (coreutils' timeout, as in a container), and sudo
        inside it for a command that needs root (`root`; None: the commands ROOT_COMMANDS names)."""
        if root is None:
            root = command[0].rsplit("/", 1)[-1] in ROOT_COMMANDS
        sudo = ["sudo", "-n"] if self.access.sudo and root else []
        deadline = ["timeout", "--kill-after=2", str(int(timeout))] if timeout is not None else []
        return shlex.join([*deadline, *sudo, *command])

    def run(
        self, command: list[str], timeout: float = 60, stdin: bytes | None = None, root: bool | None = None
    ) -> tuple[int, str]:
        """(exit code, stdout then stderr). A host that cannot be reached is a HostUnreachable, a command
        past its deadline exits 124 as coreutils' timeout says."""
        return self._run(self.command_line(command, timeout, root), timeout + CHANNEL_GRACE, stdin)

    def run_line(self, line: str, timeout: float = 60) -> tuple[int, str]:
        """A shell line of the harness's own, run as the SSH user (it adds sudo where it needs it)."""
        return self._run(
            f"timeout --kill-after=2 {int(timeout)} sh -c {shlex.quote(line)}", timeout + CHANNEL_GRACE, None
        )

    def _run(self, line: str, limit: float, stdin: bytes | None) -> tuple[int, str]:
        transport = self.connect()
        try:
            channel = transport.open_session(timeout=self.access.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            self.close()  # the next call opens a new connection
            raise HostUnreachable(f"{self.access.label}: {exc}") from None
        with channel:
            channel.settimeout(limit)
            try:
                channel.exec_command(line)
                if stdin is not None:
                    channel.sendall(stdin)
                channel.shutdown_write()
                stdout = channel.makefile("rb").read()
                stderr = channel.makefile_stderr("rb").read()
                code = channel.recv_exit_status()
            except TimeoutError:
                raise HarnessError(
                    f"{self.access.label}: no answer within {limit:.0f}s to: {line[:120]}"
                ) from None
            except (paramiko.SSHException, OSError) as exc:
                self.close()
                raise HostUnreachable(f"{self.access.label}: {exc}") from None
        return code, (stdout + stderr).decode(errors="replace")

    def start_detached(self, command: list[str]) -> None:
        """Start a command that outlives this call (and the channel): a new session, no terminal."""
        line = self.command_line(command, None)
        code, out = self._run(f"setsid -f {line} </dev/null >/dev/null 2>&1", 30, None)
        if code != 0:
            raise HarnessError(f"{self.access.label}: could not start {command[0]}: {out.strip()[:200]}")

    def upload(self, data: bytes, path: str, mode: int = 0o644, root: bool = True) -> None:
        """Write a file (as root, through sudo where the inventory says, unless `root` is False; a relative
        path is under the SSH user's home) in one command: the bytes go on its stdin, never in a command line."""
        script = (
            'umask 077; mkdir -p "$(dirname "$1")" && cat > "$1.amqchaos-part" && chmod "$2" "$1.amqchaos-part" '
            '&& mv "$1.amqchaos-part" "$1"'
        )
        command = ["sh", "-c", script, "sh", path, f"{mode:o}"]
        code, out = self.run(command, timeout=60, stdin=data, root=root)
        if code != 0:
            raise HarnessError(f"{self.access.label}: upload of {path} failed: {out.strip()[:200]}")
