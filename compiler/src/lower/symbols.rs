//! Every named item of every file in one table: services (with their endpoints), workloads,
//! faults, params, the scenario and the expect blocks. Duplicates are reported here, once.

use std::collections::HashMap;

use chaos_grammar::ast::{self, Item, ServiceSetting, Span};

use crate::diagnostic::{Diagnostic, codes};
use crate::source::FileId;

use super::ctx::Ctx;

pub(crate) struct ServiceSym<'a> {
    pub file: FileId,
    pub ast: &'a ast::Service,
    pub endpoints: Vec<&'a ast::Endpoint>,
    pub endpoint_index: HashMap<&'a str, usize>,
    /// Graph node of the first endpoint; endpoint `i` is node `first_node + i`.
    pub first_node: usize,
}

impl ServiceSym<'_> {
    pub fn name(&self) -> &str {
        &self.ast.name.name
    }
}

/// An item with the file it came from.
pub(crate) struct In<'a, T> {
    pub file: FileId,
    pub ast: &'a T,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Workload,
    Fault,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Workload => "workload",
            Kind::Fault => "fault",
        }
    }
}

#[derive(Default)]
pub(crate) struct Symbols<'a> {
    pub services: Vec<ServiceSym<'a>>,
    pub service_index: HashMap<&'a str, usize>,
    pub workloads: Vec<In<'a, ast::Workload>>,
    pub workload_index: HashMap<&'a str, usize>,
    pub faults: Vec<In<'a, ast::Fault>>,
    pub fault_index: HashMap<&'a str, usize>,
    pub params: Vec<In<'a, ast::Param>>,
    pub param_index: HashMap<&'a str, usize>,
    pub scenario: Option<In<'a, ast::Scenario>>,
    pub expects: Vec<In<'a, ast::Expect>>,
    /// `explore` blocks (a run has at most one; `explore::lower` says so).
    pub explores: Vec<In<'a, ast::Explore>>,
    /// Number of endpoints over all services (graph nodes).
    pub nodes: usize,
    /// Node -> (service index, endpoint index).
    pub node_owner: Vec<(usize, usize)>,
}

impl<'a> Symbols<'a> {
    pub fn collect(files: &[(FileId, &'a ast::File)], ctx: &mut Ctx) -> Symbols<'a> {
        let mut s = Symbols::default();
        // Services, workloads and faults share one namespace: a subject name must mean one thing.
        let mut names: HashMap<&'a str, (Kind, FileId, Span)> = HashMap::new();
        let mut declare = |ctx: &mut Ctx,
                           kind: Kind,
                           file: FileId,
                           ident: &'a ast::Ident|
         -> bool {
            if let Some((k, f, span)) = names.get(ident.name.as_str()) {
                let what = if *k == kind {
                    format!("{} `{}` is defined twice", kind.word(), ident.name)
                } else {
                    format!(
                        "`{}` is both a {} and a {}",
                        ident.name,
                        k.word(),
                        kind.word()
                    )
                };
                ctx.push(
                    Diagnostic::error(codes::DUPLICATE_NAME, what)
                        .at(file, ident.span, "defined again here")
                        .also(*f, *span, "first defined here")
                        .help("rename one of them; services, workloads and faults share one namespace"),
                );
                false
            } else {
                names.insert(&ident.name, (kind, file, ident.span));
                true
            }
        };
        for &(file, ast) in files {
            for item in &ast.items {
                match item {
                    Item::Import(_) => {}
                    Item::Param(p) => {
                        if let Some(&i) = s.param_index.get(p.name.name.as_str()) {
                            let first = &s.params[i];
                            ctx.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_NAME,
                                    format!("param `{}` is declared twice", p.name.name),
                                )
                                .at(file, p.name.span, "declared again here")
                                .also(
                                    first.file,
                                    first.ast.name.span,
                                    "first declared here",
                                ),
                            );
                        } else {
                            s.param_index.insert(&p.name.name, s.params.len());
                            s.params.push(In { file, ast: p });
                        }
                    }
                    Item::Scenario(sc) => {
                        if let Some(first) = &s.scenario {
                            ctx.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_SCENARIO,
                                    "a run has exactly one scenario; found a second one",
                                )
                                .at(file, sc.name.span, "second scenario")
                                .also(first.file, first.ast.name.span, "first scenario")
                                .help("keep one scenario per run; share services through `import`"),
                            );
                        } else {
                            s.scenario = Some(In { file, ast: sc });
                        }
                    }
                    Item::Service(svc) => {
                        if declare(ctx, Kind::Service, file, &svc.name) {
                            s.add_service(file, svc, ctx);
                        }
                    }
                    Item::Workload(w) => {
                        if declare(ctx, Kind::Workload, file, &w.name) {
                            s.workload_index.insert(&w.name.name, s.workloads.len());
                            s.workloads.push(In { file, ast: w });
                        }
                    }
                    Item::Fault(f) => {
                        if declare(ctx, Kind::Fault, file, &f.name) {
                            s.fault_index.insert(&f.name.name, s.faults.len());
                            s.faults.push(In { file, ast: f });
                        }
                    }
                    Item::Expect(e) => s.expects.push(In { file, ast: e }),
                    Item::Explore(e) => s.explores.push(In { file, ast: e }),
                }
            }
        }
        s
    }

    fn add_service(&mut self, file: FileId, svc: &'a ast::Service, ctx: &mut Ctx) {
        let index = self.services.len();
        let mut sym = ServiceSym {
            file,
            ast: svc,
            endpoints: Vec::new(),
            endpoint_index: HashMap::new(),
            first_node: self.nodes,
        };
        for setting in &svc.settings {
            let ServiceSetting::Endpoint(ep) = &setting.node else {
                continue;
            };
            if let Some(&i) = sym.endpoint_index.get(ep.name.value.as_str()) {
                ctx.push(
                    Diagnostic::error(
                        codes::DUPLICATE_NAME,
                        format!(
                            "endpoint \"{}\" is defined twice in service `{}`",
                            ep.name.value, svc.name.name
                        ),
                    )
                    .at(file, ep.name.span, "defined again here")
                    .also(
                        file,
                        sym.endpoints[i].name.span,
                        "first defined here",
                    ),
                );
                continue;
            }
            sym.endpoint_index
                .insert(&ep.name.value, sym.endpoints.len());
            self.node_owner.push((index, sym.endpoints.len()));
            sym.endpoints.push(ep);
        }
        self.nodes += sym.endpoints.len();
        self.service_index.insert(&svc.name.name, index);
        self.services.push(sym);
    }

    pub fn service(&self, name: &str) -> Option<&ServiceSym<'a>> {
        self.service_index.get(name).map(|&i| &self.services[i])
    }

    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name())
    }
}
