"""An instance's states (power, VM, task): upstream's values, shared by the API,
the conductor, the compute manager and the virt drivers, which all import them
from here rather than from one another."""
