"""What a console opens onto: a VM's container (its owner, or an operator) or a host (operators
only). Lookups go through the same `for_user` as every page and endpoint, so another tenant's VM
and a VM that does not exist give the same answer."""

import shlex
from dataclasses import dataclass

from core import tenancy
from provisions.models import Host
from vms import lxc
from vms.choices import VMState
from vms.models import VM, VMJob

# What the shell in the container starts with: the host's environment (ONE_EDGE_BASE, the sshd
# session's variables) is none of the container's business.
CONTAINER_ENV = {
    "HOME": "/root",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SHELL": "/bin/sh",
    "USER": "root",
    "LOGNAME": "root",
}
# Actions whose job stops the container under a console (which then ends as VM_STOPPED).
STOPPING_ACTIONS = ("poweroff", "reboot", "terminate")


class NotFound(Exception):
    pass


class NotRunning(Exception):
    pass


@dataclass
class Target:
    kind: str  # "vm" or "host"
    host: Host
    vm: VM | None
    command: str | None  # None: the host's login shell
    label: str


def attach_command(vm: VM, term: str) -> str:
    """`lxc-attach` into the VM's container with a login shell in $HOME, as vms.lxc.execute
    runs commands there; every value quoted (the container name is derived from the ID)."""
    env = {**CONTAINER_ENV, "TERM": term}
    set_vars = " ".join(f"--set-var {shlex.quote(f'{k}={v}')}" for k, v in env.items())
    shell = 'cd "$HOME" 2>/dev/null; exec /bin/sh -l'
    return lxc.attach_prefix(vm) + f" --clear-env {set_vars} -- /bin/sh -c {shlex.quote(shell)}"


def vm_target(user, pk: int, term: str) -> Target:
    vm = VM.objects.for_user(user).select_related("host__provision").filter(pk=pk).first()
    if vm is None:
        raise NotFound(f"VM {pk} not found")
    if not tenancy.may_change(user, vm):  # a viewer of its group: told why, nothing opened
        raise NotFound(tenancy.refusal(user, vm))
    if vm.state != VMState.RUNNING or vm.host is None or not vm.host.public_ip:
        raise NotRunning(
            f"VM {vm.name} is {vm.state}, not RUNNING: a console needs a running VM"
            + (" (resume it first)" if vm.state == VMState.POWEROFF else "")
        )
    label = f"VM {vm.name} ({vm.container_name}) on {vm.host.name}"
    return Target("vm", vm.host, vm, attach_command(vm, term), label)


def host_target(user, pk: int, term: str) -> Target:
    # Not a 403: to a self-service user, hosts do not exist as console targets.
    if not (user.is_active and user.is_staff):
        raise NotFound(f"host {pk} not found")
    host = Host.objects.select_related("provision").filter(pk=pk).first()
    if host is None:
        raise NotFound(f"host {pk} not found")
    if not host.public_ip:
        raise NotRunning(f"host {host.name} is {host.state} and has no public address yet")
    return Target("host", host, None, None, f"host {host.name} of {host.provision.name}")


FINDERS = {"vm": vm_target, "host": host_target}


def find(kind: str, user, pk: int, term: str) -> Target:
    return FINDERS[kind](user, pk, term)


def vm_stopping(target: Target, since) -> bool:
    """Whether the VM under a console stopped or is being stopped by a job begun since the
    session started (poweroff, reboot, terminate), which is why its shell would end."""
    if target.vm is None:
        return False
    vm_id = target.vm.pk
    if not VM.objects.filter(pk=vm_id, state=VMState.RUNNING).exists():
        return True
    return VMJob.objects.filter(
        vm_id=vm_id, action__in=STOPPING_ACTIONS, created_at__gte=since
    ).exists()


def still_there(target: Target) -> bool:
    if target.vm is not None:
        return VM.objects.filter(pk=target.vm.pk, state=VMState.RUNNING).exists()
    return Host.objects.filter(pk=target.host.pk).exists()
