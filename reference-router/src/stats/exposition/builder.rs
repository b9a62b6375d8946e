//! The builder the families are written with, one sample at a time: a leaf both
//! the general families (`families.rs`) and the carrier-grade ones (`cgn.rs`) use.

use super::{Family, Kind, Sample, Source};

/// Builds families one sample at a time.
pub(super) struct Builder {
    pub(super) families: Vec<Family>,
}

impl Builder {
    pub(super) fn family(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
    ) -> &mut Self {
        let unit = ["bytes", "bytes_per_second"]
            .into_iter()
            .find(|u| name.ends_with(&format!("_{u}")));
        self.families.push(Family {
            name,
            help,
            kind,
            unit,
            samples: Vec::new(),
        });
        self
    }

    pub(super) fn sample(
        &mut self,
        labels: &[(&'static str, &str)],
        value: u64,
        path: String,
    ) -> &mut Self {
        self.scaled(labels, value, path, 1)
    }

    pub(super) fn scaled(
        &mut self,
        labels: &[(&'static str, &str)],
        value: u64,
        path: String,
        scale: u64,
    ) -> &mut Self {
        let family = self
            .families
            .last_mut()
            .expect("a family before its samples");
        family.samples.push(Sample {
            labels: labels.iter().map(|&(k, v)| (k, v.to_string())).collect(),
            value: value.saturating_mul(scale),
            source: Some(Source { path, scale }),
        });
        self
    }

    /// A counter or gauge with one unlabelled sample, the JSON value at `path`.
    pub(super) fn single(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        path: &str,
        value: u64,
    ) {
        self.family(name, help, kind)
            .sample(&[], value, path.to_string());
    }
}
