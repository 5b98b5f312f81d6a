from django.db import models


class EndReason(models.TextChoices):
    EXITED = "EXITED", "the shell exited"
    CLOSED = "CLOSED", "the client disconnected"
    IDLE = "IDLE", "idle timeout"
    MAX_LENGTH = "MAX_LENGTH", "maximum session length"
    VM_STOPPED = "VM_STOPPED", "the VM stopped"
    HOST_UNREACHABLE = "HOST_UNREACHABLE", "the host could not be reached"
    ERROR = "ERROR", "error"
    # The process that held it died (its row was not marked alive for several beats).
    LOST = "LOST", "lost with its server process"


class Via(models.TextChoices):
    BROWSER = "BROWSER", "browser (session)"
    CLI = "CLI", "CLI (API token)"


END_COLOURS = {
    EndReason.EXITED: "grey",
    EndReason.CLOSED: "grey",
    EndReason.IDLE: "orange",
    EndReason.MAX_LENGTH: "orange",
    EndReason.VM_STOPPED: "orange",
    EndReason.HOST_UNREACHABLE: "red",
    EndReason.ERROR: "red",
    EndReason.LOST: "red",
}
