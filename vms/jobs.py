"""django-q2 entry point for VM work: deploy (PENDING -> PROLOG -> BOOT -> RUNNING) and actions."""

import logging

from django.core.exceptions import ValidationError

from portal import sshkeys
from vms import lxc
from vms.choices import VMState
from vms.models import VM, PortBlock
from vms.services import release, transition, vm_log

log = logging.getLogger(__name__)


def run_vm_job(vm_id: int, action: str) -> str:
    vm = VM.objects.select_related("host__provision", "image", "template").get(pk=vm_id)
    try:
        if action == "deploy":
            return _deploy(vm)
        if action == "terminate":
            return _terminate(vm)
        return _action(vm, action)
    except lxc.LXCError as exc:
        vm_log(vm, f"{action} failed: {exc}", "error")
        VM.objects.filter(pk=vm.pk).update(failure_reason=str(exc))
        transition(vm, VMState.FAILURE, set(VMState) - {VMState.DONE}, reason=f"{action}: {exc}")
        return "failed"


def context_ssh_key(vm: VM) -> str:
    """The key the template's context asks for: `true` means the VM owner's key (OpenNebula's
    $USER[SSH_PUBLIC_KEY]); a literal key is checked like one typed on the SSH key page."""
    wanted = (vm.template.context or {}).get("ssh_public_key") if vm.template else None
    if wanted is True:
        return sshkeys.public_key_of(vm.owner)
    if isinstance(wanted, str) and wanted.strip():
        try:
            return sshkeys.check_public_key(wanted)
        except ValidationError as exc:
            vm_log(vm, f"template's ssh_public_key ignored: {' '.join(exc.messages)}", "warning")
    return ""


def _deploy(vm: VM) -> str:
    if not transition(vm, VMState.PROLOG, {VMState.PENDING}):
        return f"not deployed: VM is {vm.state}"
    nics = list(vm.nics.select_related("network").order_by("index"))
    block = PortBlock.objects.filter(nic__vm=vm).first()
    key = context_ssh_key(vm)
    vm_log(vm, f"PROLOG: fetching image {vm.image.name} (sha256 {vm.image.sha256[:12]}…)")
    transition(vm, VMState.BOOT, {VMState.PROLOG})
    lxc.deploy(
        vm,
        nics,
        block.first_port if block else None,
        ssh_key=key,
        log=lambda line: vm_log(vm, line),
    )
    transition(vm, VMState.RUNNING, {VMState.BOOT})
    vm_log(vm, "RUNNING")
    return "running"


def _action(vm: VM, action: str) -> str:
    name = {"poweroff": "stop", "resume": "start", "reboot": "reboot"}[action]
    lxc.action(vm, name, log=lambda line: vm_log(vm, line))
    state = VMState.POWEROFF if action == "poweroff" else VMState.RUNNING
    transition(vm, state, set(VMState) - {VMState.DONE}, reason=action)
    vm_log(vm, f"{action}: {state}")
    return state


def _terminate(vm: VM) -> str:
    if vm.host_id:
        lxc.action(vm, "destroy", log=lambda line: vm_log(vm, line))
    release(vm, "terminated: container destroyed, ports and addresses released")
    return "done"
