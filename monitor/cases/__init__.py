"""Case work, the only writers outside a load: the alert case (SPEC §10) and outreach visits."""
