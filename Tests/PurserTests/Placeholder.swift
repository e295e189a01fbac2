import Testing
// Placeholder until this module's tests land.
