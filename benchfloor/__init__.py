"""The framework-plus-database floor the intake benchmark compares against (bench/)."""
