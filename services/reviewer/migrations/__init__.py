"""The reviewer's numbered SQL migrations (registered under ``ascent.migrations``)."""
