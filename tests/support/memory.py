"""The shell wired in memory: `memory_ports` (memory stores over one database, scripted
providers, a recording scheduler, a test clock), `memory_shell` on them, and the `World` a
test drives (the shell plus the database, the clock and the scheduler behind it)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.adapters.providers import did, heygen, runwayml
from shared.adapters.providers.base import VideoProvider
from shared.adapters.stores.breakers import SharedBreaker
from shared.adapters.stores.memory import (
    MemoryBreakerBackend,
    MemoryDatabase,
    MemoryDocumentStore,
    MemoryJobStore,
)
from shared.core.breaker import ManualAction
from shared.core.jobs import Job
from shared.core.model import VideoOptions
from shared.core.orchestration import Setup
from shared.core.records import derived
from shared.shell import admin, processing
from shared.shell.context import Ports, RecordingScheduler, Shell, capabilities_of
from tests.support.fakes import SCRIPT, Clock, ScriptedProvider
from tools.provider_sim import ProviderSim


def scripted_providers() -> dict[str, ScriptedProvider]:
    """A scripted adapter for each of the three providers, with their real capabilities."""
    return {
        c.provider_id: ScriptedProvider(c)
        for c in (heygen.CAPABILITIES, did.CAPABILITIES, runwayml.CAPABILITIES)
    }


def memory_ports(db: MemoryDatabase | None = None, **overrides: Any) -> Ports:
    """Ports over ``db`` (a new database when None): its job and document stores, a shared
    breaker that reads its state afresh every time, the three scripted providers, a recording
    scheduler, a `Clock` at `fakes.NOW` and a random source fixed at 0.5. ``overrides``: any
    field of `Ports` (e.g. ``providers=``, ``clock=``, ``videos=``)."""
    db = db if db is not None else MemoryDatabase()
    defaults: dict[str, Any] = {
        "jobs": MemoryJobStore(db),
        "breakers": SharedBreaker(MemoryBreakerBackend(db), cache_ttl_s=0.0, window_cache_s=0.0),
        "docs": MemoryDocumentStore(db),
        "scheduler": RecordingScheduler(),
        "clock": Clock(),
        "rand": lambda: 0.5,
    }
    if "providers" not in overrides:
        defaults["providers"] = scripted_providers()
    return Ports(**{**defaults, **overrides})


def memory_shell(ports: Ports | None = None, **choices: Any) -> Shell:
    """A shell on ``ports`` (`memory_ports()` when None); ``choices``: the fields of `Setup`
    besides the capabilities, which are the providers'."""
    ports = ports if ports is not None else memory_ports()
    return Shell(ports=ports, setup=Setup(capabilities=capabilities_of(ports.providers), **choices))


@dataclass
class World:
    """A shell over memory stores, with the database, the clock and the scheduler behind it."""

    shell: Shell
    db: MemoryDatabase
    sim: ProviderSim | None = None  # the provider simulator behind the adapters, if any

    @property
    def clock(self) -> Any:
        return self.shell.ports.clock

    @property
    def tasks(self) -> RecordingScheduler:
        scheduler = self.shell.ports.scheduler
        assert isinstance(scheduler, RecordingScheduler)
        return scheduler

    @property
    def providers(self) -> Mapping[str, Any]:
        """The adapters (a test of scripted providers changes what they answer)."""
        return self.shell.ports.providers

    def choose(self, **choices: Any) -> None:
        """Change some of the deployment's choices (fields of `Setup`) from now on."""
        self.shell.setup = replace(self.shell.setup, **choices)

    def plug(self, **ports: Any) -> None:
        """Change some ports (fields of `Ports`, e.g. ``videos=``) from now on."""
        self.shell.ports = replace(self.shell.ports, **ports)

    def job(self, **changes: Any) -> Job:
        """``job-1`` of ``user-1``, due now with half an hour to go, changed by ``changes``."""
        now = self.clock()
        job = Job(
            job_id="job-1",
            created_at=now,
            updated_at=now,
            deadline_at=now + 1800,
            next_action_at=now,
            user_id="user-1",
        )
        job = replace(job, **changes)
        self.shell.ports.jobs.create(job, side=derived(None, job))
        return job

    def new_job(self, *, script: str | None = None, user_id: str = "user-1", **options: Any) -> Job:
        """A job of ``user_id`` with a fresh id, reading ``script`` (`SCRIPT`) with ``options``."""
        return self.job(
            job_id=f"vj_{uuid.uuid4().hex[:12]}",
            user_id=user_id,
            script=script or SCRIPT,
            options=VideoOptions(**options),
        )

    def run(self, job_id: str, *, rounds: int = 20) -> Job:
        """Process the job, then each follow-up when due (the clock jumps to it), until it is
        terminal. For a wall `Clock` against the provider simulator, which renders in 0.2 s."""
        shell = self.shell
        processing.process(shell, job_id)
        for _ in range(rounds):
            job = shell.ports.jobs.get(job_id)
            assert job is not None
            if job.terminal:
                return job
            due = job.next_action_at or self.clock()
            self.clock.offset += max(0.0, due - self.clock()) + 0.01
            time.sleep(0.25)
            processing.process(shell, job_id)
        final = shell.ports.jobs.get(job_id)
        assert final is not None
        return final


def memory_world(
    providers: Mapping[str, VideoProvider] | None = None,
    *,
    clock: Clock | None = None,
    sim: ProviderSim | None = None,
    **choices: Any,
) -> World:
    """A `World` on `memory_ports` (``providers``: the scripted three when None; ``clock``: a
    `Clock` at `fakes.NOW` when None; ``sim``: the simulator they talk to) and the deployment's
    ``choices``."""
    db = MemoryDatabase()
    overrides: dict[str, Any] = {"clock": clock if clock is not None else Clock()}
    if providers is not None:
        overrides["providers"] = providers
    return World(shell=memory_shell(memory_ports(db, **overrides), **choices), db=db, sim=sim)


def submitted_on_heygen(world: World) -> Job:
    """A new job submitted to HeyGen (the other circuits forced open), rendering there."""
    for provider in ("did", "runwayml"):
        admin.set_circuit(
            world.shell, provider, ManualAction.OPEN, by="test", reason="keep the job on HeyGen"
        )
    job = world.new_job()
    after = processing.process(world.shell, job.job_id)
    assert after is not None
    assert after.provider_id == "heygen"
    assert after.provider_job_id
    return after
