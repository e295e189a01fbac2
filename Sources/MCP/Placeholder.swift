// Placeholder until this module's issue lands; replaced by the module's real sources.
