//! JSON lines formatting: the same records as CEF, snake_case fields.
