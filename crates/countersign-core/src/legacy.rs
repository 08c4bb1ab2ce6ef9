//! The DocuSign legacy `X-DocuSign-Authentication` header (SPEC §5): parsing and building.
