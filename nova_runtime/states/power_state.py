"""An instance's power state as the hypervisor reports it (upstream's values,
stored in instances.power_state)."""

NOSTATE = 0x00
RUNNING = 0x01
PAUSED = 0x03
SHUTDOWN = 0x04  # the domain exists but is not running
CRASHED = 0x06
SUSPENDED = 0x07

NAMES = {
    NOSTATE: "pending",
    RUNNING: "running",
    PAUSED: "paused",
    SHUTDOWN: "shutdown",
    CRASHED: "crashed",
    SUSPENDED: "suspended",
}
