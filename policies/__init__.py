"""Built-in routing policies, one module each, registered through ``router_register_policies``."""
