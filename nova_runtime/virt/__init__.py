"""Virt drivers: what nova-compute asks of a hypervisor (see driver.ComputeDriver)."""
