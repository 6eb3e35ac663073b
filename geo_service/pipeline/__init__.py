"""The investment pipeline: projects by investment form, their dossier events and derived
progress, investors' enquiries (plan 56-KH/TU, 2.4 and 2.6)."""
