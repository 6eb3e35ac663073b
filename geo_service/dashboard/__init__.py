"""The targets dashboard and the annual report: the plans' targets kept as data, figures by period
counted in SQL from the pipeline's records, and the report's exports."""
