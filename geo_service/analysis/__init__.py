"""Site analytics over the store and the rasters: proximity, and explainable suitability ranking."""
