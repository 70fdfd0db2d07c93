//! Integration tests of the glas binary and its stages, against real parts: an
//! HTTP server on 127.0.0.1 serving `fixtures/`, a real SMTP server (aiosmtpd)
//! on loopback, and real child processes killed with SIGKILL.

mod support;

mod backup;
mod browser;
mod cli;
mod crawl;
mod demo;
mod forecast;
mod import_kill;
mod incidents;
mod plan;
mod privacy;
mod region;
mod report;
mod search;
mod serve;
mod service;
mod signals;
mod smtp;
mod voice;
mod workspace;
