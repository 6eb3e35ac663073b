"""The investor web map: map definitions (data in `maps/`), served assets, and the page."""
