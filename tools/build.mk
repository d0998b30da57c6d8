# flowpinctl (not built yet).
