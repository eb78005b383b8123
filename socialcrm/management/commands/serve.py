import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.data import DEMO_USERS

STARTUP_TIMEOUT_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Serve the app with Daphne on HOST:PORT and beat's schedule (with REDIS_URL, a Celery worker and beat). "
        "Ctrl-C stops everything it started."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-stream",
            type=float,
            default=0,
            metavar="RATE",
            help="Also post synthetic mentions to the demo channels at RATE a second (make run uses 0.2).",
        )

    def handle(self, *args, demo_stream, **options):
        host, port = settings.HOST, settings.PORT
        _check_port_free(host, port)
        commands = {"web": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "socialcrm.asgi:application"]}
        if settings.REDIS_URL:
            celery = [sys.executable, "-m", "celery", "-A", "socialcrm"]
            commands["worker"] = [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"]
            commands["beat"] = [*celery, "beat", "--loglevel", "INFO"]
        processes: dict[str, subprocess.Popen] = {}
        # Without Redis, tasks run in-process and beat's schedule runs inside the web process (socialcrm.asgi).
        environment = {**os.environ, **({} if settings.REDIS_URL else {"SOCIALCRM_SCHEDULE_IN_WEB": "1"})}

        def stop(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands.items():
                # Own process groups, so Ctrl-C reaches them once, through us, in order.
                processes[name] = subprocess.Popen(command, start_new_session=True, env=environment)  # noqa: S603
            self._wait_until_listening(host, port, processes)
            if demo_stream > 0:
                stream = [
                    sys.executable,
                    str(settings.BASE_DIR / "manage.py"),
                    "simulate_stream",
                    "--rate",
                    str(demo_stream),
                    "--duration",
                    "0",
                ]
                processes["demo-stream"] = subprocess.Popen(stream, start_new_session=True)  # noqa: S603 - fixed argv
            self._announce(host, port, processes)
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        raise CommandError(f"{name} exited with code {process.returncode}; stopping the rest.")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping...")
        finally:
            _stop_all(processes)
        self.stdout.write("Stopped.")

    def _wait_until_listening(self, host, port, processes) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if processes["web"].poll() is not None:
                raise CommandError(f"Daphne exited with code {processes['web'].returncode} before listening.")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"Daphne did not listen on {host}:{port} within {STARTUP_TIMEOUT_SECONDS} s.")

    def _announce(self, host, port, processes) -> None:
        shown_host = f"[{host}]" if ":" in host else host
        mode = "PostgreSQL" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "SQLite"
        background = (
            "Celery worker and beat on Redis" if settings.REDIS_URL else "tasks and beat's schedule in the web process"
        )
        lines = [
            "",
            f"  socialcrm is running at http://{shown_host}:{port}/",
            f"  ({mode}; {background}; started {', '.join(processes)})",
            "",
            "  Demo logins (username / password):",
            *(f"    {username:<8} / {password:<8}  {role}" for username, password, role, _, _ in DEMO_USERS),
            "",
            "  Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({error.strerror}). Is socialcrm already running? "
                "Set PORT to use another port, e.g. PORT=8001 make run."
            ) from None


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
