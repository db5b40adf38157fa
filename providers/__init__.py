"""Built-in provider plugins, one module each, registered through ``router_register_providers``."""
