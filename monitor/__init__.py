"""参保与防返贫监测: the core shared by the ETL command line, the scheduler and the pages."""
