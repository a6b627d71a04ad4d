//! `simulate`: the P2P-LLM market of the paper's §5–6, reproduced off line. Prints the rows of
//! Table 1 (beside the paper's numbers when the setup is the paper's), writes a CSV of every
//! iteration and an SVG plot, and checks the end state for an equilibrium.

use std::{
	fmt::Write as _,
	io::{BufWriter, Write as _},
	path::{Path, PathBuf},
};

use crate::{
	error::WorkerError,
	simulation::{LayerState, Setup, Simulation, SplitMix64},
};

/// `simulate` arguments.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
	/// Nodes per layer at the start, comma-separated; the number of entries is the number of
	/// layers [default: 10,4,10,4, the paper's Table 1; with --nodes and --layers: all nodes on
	/// the first layer].
	#[arg(long, value_delimiter = ',')]
	pub start: Vec<usize>,
	/// Number of nodes (checked against --start when both are given).
	#[arg(long)]
	pub nodes: Option<usize>,
	/// Number of layers (checked against --start when both are given).
	#[arg(long)]
	pub layers: Option<usize>,
	/// alpha: weight of price against cost in a client's choice, in (0, 1].
	#[arg(long, default_value_t = 0.5)]
	pub alpha: f64,
	/// eta: gradient step size.
	#[arg(long, default_value_t = 1.0)]
	pub eta: f64,
	/// Every node's starting price.
	#[arg(long, default_value_t = 1.0)]
	pub initial_price: f64,
	/// The highest price a node asks (a node alone on its layer climbs to it).
	#[arg(long, default_value_t = 100.0)]
	pub max_price: f64,
	/// Iterations to run.
	#[arg(long, default_value_t = 1000)]
	pub steps: usize,
	/// Node costs: `equal` (all 1), `equal:C`, or `uniform:LOW:HIGH` (drawn from the open
	/// interval with --seed; the paper uses uniform:1:50).
	#[arg(long, default_value = "equal")]
	pub costs: String,
	/// Seed of the cost draw.
	#[arg(long, default_value_t = 1)]
	pub seed: u64,
	/// Iterations between two moves (one node moves at a time); 0: nodes never move.
	#[arg(long, default_value_t = 100)]
	pub move_every: usize,
	/// A move must raise the mover's share of compute by more than this fraction.
	#[arg(long, default_value_t = 0.0)]
	pub hysteresis: f64,
	/// Iterations to print as table rows, comma-separated [default: 0,100,500,1000 up to
	/// --steps, and the last].
	#[arg(long, value_delimiter = ',')]
	pub rows: Vec<usize>,
	/// The equilibrium check passes when no node can add more than this to its expected
	/// revenue per request by a best-response price, and no move raises a share.
	#[arg(long, default_value_t = 1e-3)]
	pub epsilon: f64,
	/// CSV of every iteration: iteration, layer, nodes, average, lowest and highest price.
	#[arg(long, default_value = "simulation.csv")]
	pub csv: PathBuf,
	/// SVG plot of average price and node count per layer over the iterations.
	#[arg(long, default_value = "simulation.svg")]
	pub plot: PathBuf,
}

/// Table 1 of the paper: iteration, nodes and average price per layer.
const PAPER_TABLE_1: [(usize, [usize; 4], [f64; 4]); 4] = [
	(0, [10, 4, 10, 4], [1.0, 1.0, 1.0, 1.0]),
	(100, [7, 6, 10, 5], [1.92, 2.20, 1.80, 2.31]),
	(500, [7, 6, 8, 7], [2.33, 2.40, 2.29, 2.33]),
	(1000, [7, 7, 7, 7], [2.33, 2.34, 2.33, 2.33]),
];

const MAX_NODES: usize = 10_000;
const MAX_LAYERS: usize = 256;
const MAX_STEPS: usize = 1_000_000;

/// Node costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Costs {
	/// Every node costs the same.
	Equal(f64),
	/// Drawn uniformly from the open interval.
	Uniform(f64, f64),
}

impl Costs {
	/// Parses `equal`, `equal:C` or `uniform:LOW:HIGH`.
	pub fn parse(text: &str) -> Result<Self, WorkerError> {
		let bad = || {
			WorkerError::Usage(format!(
				"--costs `{text}`: expected `equal`, `equal:C` or `uniform:LOW:HIGH` with \
				 0 < LOW < HIGH"
			))
		};
		let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
		let parts: Vec<&str> = text.split(':').collect();
		match parts.as_slice() {
			["equal"] => Ok(Costs::Equal(1.0)),
			["equal", c] => number(c).map(Costs::Equal).ok_or_else(bad),
			["uniform", low, high] => match (number(low), number(high)) {
				(Some(low), Some(high)) if low < high => Ok(Costs::Uniform(low, high)),
				_ => Err(bad()),
			},
			_ => Err(bad()),
		}
	}

	/// `count` costs.
	pub fn draw(self, count: usize, seed: u64) -> Vec<f64> {
		match self {
			Costs::Equal(c) => vec![c; count],
			Costs::Uniform(low, high) => {
				let mut rng = SplitMix64::new(seed);
				(0..count).map(|_| rng.open_interval(low, high)).collect()
			},
		}
	}
}

impl SimulateArgs {
	/// The checked setup and the iterations to print.
	fn setup(&self) -> Result<(Setup, Vec<usize>), WorkerError> {
		let usage = |m: String| Err(WorkerError::Usage(m));
		let start = match (self.start.is_empty(), self.nodes, self.layers) {
			(true, None, None) => vec![10, 4, 10, 4],
			(true, Some(nodes), Some(layers)) if layers > 0 => {
				let mut start = vec![0; layers];
				start[0] = nodes;
				start
			},
			(true, _, _) => return usage("give --start, or both --nodes and --layers".into()),
			(false, nodes, layers) => {
				let sum: usize = self.start.iter().sum();
				if nodes.is_some_and(|n| n != sum) || layers.is_some_and(|l| l != self.start.len())
				{
					return usage(format!(
						"--start has {sum} nodes on {} layers, which --nodes/--layers contradict",
						self.start.len()
					));
				}
				self.start.clone()
			},
		};
		let nodes: usize = start.iter().sum();
		if nodes == 0 || nodes > MAX_NODES {
			return usage(format!("the network needs 1 to {MAX_NODES} nodes, not {nodes}"));
		}
		if start.is_empty() || start.len() > MAX_LAYERS {
			return usage(format!("the model needs 1 to {MAX_LAYERS} layers"));
		}
		if !(self.alpha > 0.0 && self.alpha <= 1.0) {
			return usage("--alpha must be in (0, 1]".into());
		}
		if !(self.eta.is_finite() && self.eta > 0.0) {
			return usage("--eta must be a positive number".into());
		}
		if !(self.max_price.is_finite() && self.max_price > 0.0) {
			return usage("--max-price must be a positive number".into());
		}
		if !(self.initial_price.is_finite()
			&& self.initial_price >= 0.0
			&& self.initial_price <= self.max_price)
		{
			return usage("--initial-price must be a number from 0 to --max-price".into());
		}
		if self.steps == 0 || self.steps > MAX_STEPS {
			return usage(format!("--steps must be 1 to {MAX_STEPS}"));
		}
		if !(self.hysteresis.is_finite() && self.hysteresis >= 0.0) {
			return usage("--hysteresis must be a number at least 0".into());
		}
		if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
			return usage("--epsilon must be a positive number".into());
		}
		let mut rows = if self.rows.is_empty() {
			[0, 100, 500, 1000].into_iter().filter(|&r| r <= self.steps).collect()
		} else {
			self.rows.clone()
		};
		if let Some(&late) = rows.iter().find(|&&r| r > self.steps) {
			return usage(format!("--rows {late} is past --steps {}", self.steps));
		}
		if self.rows.is_empty() {
			rows.push(self.steps);
		}
		rows.sort_unstable();
		rows.dedup();
		let setup = Setup {
			costs: Costs::parse(&self.costs)?.draw(nodes, self.seed),
			start,
			initial_price: self.initial_price,
			alpha: self.alpha,
			eta: self.eta,
			max_price: self.max_price,
			move_every: self.move_every,
			hysteresis: self.hysteresis,
		};
		Ok((setup, rows))
	}
}

/// Every iteration's layers, as kept for the plot (at most about 2,000 points per line).
struct History {
	stride: usize,
	points: Vec<(usize, Vec<LayerState>)>,
}

/// Runs `simulate`.
pub async fn run(args: SimulateArgs) -> Result<(), WorkerError> {
	let (setup, rows) = args.setup()?;
	let is_paper = setup.start == [10, 4, 10, 4]
		&& setup.costs.iter().all(|c| *c == setup.costs[0])
		&& args.alpha == 0.5
		&& args.eta == 1.0
		&& args.initial_price == 1.0;
	println!("{}", describe(&setup, &args));
	if is_paper {
		println!("This is the setup of the paper's Table 1; its rows are printed as `paper`.");
	}

	let mut sim = Simulation::new(setup);
	let file = std::fs::File::create(&args.csv).map_err(|e| WorkerError::output(&args.csv, e))?;
	let mut csv = BufWriter::new(file);
	let write_error = |e: std::io::Error| WorkerError::output(&args.csv, e);
	writeln!(csv, "iteration,layer,nodes,average_price,min_price,max_price")
		.map_err(write_error)?;
	let mut history = History { stride: args.steps.div_ceil(2000).max(1), points: Vec::new() };
	let mut table = table_header(sim.layers());
	let mut moves = Vec::new();
	let started = std::time::Instant::now();
	for iteration in 0..=args.steps {
		if iteration > 0 {
			if let Some(m) = sim.step() {
				tracing::info!(
					event = "move",
					iteration = m.iteration,
					node = m.node,
					from = m.from + 1,
					to = m.to + 1,
					share_before = m.share_before,
					share_after = m.share_after,
					"node {} moves from layer {} to layer {}: share {:.4} -> {:.4}",
					m.node,
					m.from + 1,
					m.to + 1,
					m.share_before,
					m.share_after
				);
				moves.push(m);
			}
		}
		let layers = sim.snapshot();
		for (l, state) in layers.iter().enumerate() {
			writeln!(
				csv,
				"{iteration},{},{},{},{},{}",
				l + 1,
				state.nodes,
				csv_number(state.average_price),
				csv_number(state.min_price),
				csv_number(state.max_price)
			)
			.map_err(write_error)?;
		}
		if rows.contains(&iteration) {
			let paper = PAPER_TABLE_1.iter().find(|r| r.0 == iteration).filter(|_| is_paper);
			table_rows(&mut table, iteration, &layers, paper);
		}
		if iteration % history.stride == 0 || iteration == args.steps {
			history.points.push((iteration, layers));
		}
		if iteration > 0 && iteration % 100_000 == 0 {
			tracing::info!(event = "progress", iteration, of = args.steps, "simulating");
		}
	}
	csv.flush().map_err(write_error)?;
	print!("\n{table}");

	println!(
		"\n{} move{} (one every {} iterations at most){}",
		moves.len(),
		if moves.len() == 1 { "" } else { "s" },
		args.move_every,
		moves
			.last()
			.map(|m| format!(", the last at iteration {}", m.iteration))
			.unwrap_or_default()
	);
	for m in moves.iter().take(12) {
		println!(
			"  iteration {:>6}: node {:>4} layer {} -> {} (share {:.4} -> {:.4})",
			m.iteration,
			m.node,
			m.from + 1,
			m.to + 1,
			m.share_before,
			m.share_after
		);
	}
	if moves.len() > 12 {
		println!("  ... ({} more in the log)", moves.len() - 12);
	}
	print!("\n{}", closed_form(&sim));
	let (report, passed) = equilibrium_report(&sim, args.epsilon);
	print!("\n{report}");

	// One dashed line at the closed form when every layer ends at the same one.
	let predicted = sim.predicted_prices();
	let reference = match predicted.first() {
		Some(Some(p)) if predicted.iter().all(|q| *q == Some(*p)) => Some(*p),
		_ => None,
	};
	let svg = plot_svg(&history.points, &describe(sim.setup(), &args), reference);
	std::fs::write(&args.plot, svg).map_err(|e| WorkerError::output(&args.plot, e))?;
	println!(
		"\nwrote {} ({} iterations x {} layers) and {} in {:.2} s",
		args.csv.display(),
		args.steps + 1,
		sim.layers(),
		args.plot.display(),
		started.elapsed().as_secs_f64()
	);
	tracing::info!(event = "simulated", passed, moves = moves.len(), "equilibrium check done");
	Ok(())
}

fn describe(setup: &Setup, args: &SimulateArgs) -> String {
	let nodes: usize = setup.start.iter().sum();
	format!(
		"P2P-LLM market: {nodes} nodes on {} layers, alpha {}, eta {}, start prices {}, costs {}{}, \
		 one move every {} iterations, hysteresis {}",
		setup.start.len(),
		args.alpha,
		args.eta,
		args.initial_price,
		args.costs,
		if args.costs.starts_with("uniform") { format!(" (seed {})", args.seed) } else { String::new() },
		args.move_every,
		args.hysteresis
	)
}

fn table_header(layers: usize) -> String {
	let mut out = format!("{:<10} {:<12}", "iteration", "metric");
	for l in 1..=layers {
		let _ = write!(out, " {:>8}", format!("layer {l}"));
	}
	out.push('\n');
	out
}

fn table_rows(
	out: &mut String,
	iteration: usize,
	layers: &[LayerState],
	paper: Option<&(usize, [usize; 4], [f64; 4])>,
) {
	let _ = write!(out, "{iteration:<10} {:<12}", "nodes");
	for l in layers {
		let _ = write!(out, " {:>8}", l.nodes);
	}
	let _ = write!(out, "\n{:<10} {:<12}", "", "avg price");
	for l in layers {
		let _ = write!(out, " {:>8}", price_cell(l.average_price));
	}
	out.push('\n');
	if let Some((_, nodes, prices)) = paper {
		let _ = write!(out, "{:<10} {:<12}", "", "paper nodes");
		for n in nodes {
			let _ = write!(out, " {n:>8}");
		}
		let _ = write!(out, "\n{:<10} {:<12}", "", "paper price");
		for p in prices {
			let _ = write!(out, " {p:>8.2}");
		}
		out.push('\n');
	}
}

fn price_cell(price: f64) -> String {
	if price.is_nan() {
		"-".into()
	} else {
		format!("{price:.2}")
	}
}

fn csv_number(value: f64) -> String {
	if value.is_nan() {
		String::new()
	} else {
		format!("{value}")
	}
}

/// Each layer's final average price beside the closed form `n / (α·(n − 1))`.
fn closed_form(sim: &Simulation) -> String {
	let mut out = String::from(
		"closed form n/(alpha(n-1)) for each layer's final node count (equal costs only):\n",
	);
	for (l, (state, predicted)) in sim.snapshot().iter().zip(sim.predicted_prices()).enumerate() {
		let _ = match predicted {
			Some(p) => writeln!(
				out,
				"  layer {}: {}, closed form {p:.4}, simulated average {:.4}, difference {:+.2e}",
				l + 1,
				node_count(state.nodes),
				state.average_price,
				state.average_price - p
			),
			None => writeln!(
				out,
				"  layer {}: {}, no closed form (unequal costs or fewer than 2 nodes), \
				 simulated average {}",
				l + 1,
				node_count(state.nodes),
				price_cell(state.average_price)
			),
		};
	}
	out
}

fn node_count(n: usize) -> String {
	format!("{n} node{}", if n == 1 { "" } else { "s" })
}

/// The equilibrium check in words, and whether it passed.
fn equilibrium_report(sim: &Simulation, epsilon: f64) -> (String, bool) {
	let checks = sim.equilibrium();
	let argmax =
		|f: &dyn Fn(&crate::simulation::NodeCheck) -> f64| {
			checks
				.iter()
				.enumerate()
				.map(|(i, c)| (i, f(c)))
				.fold((0, f64::NEG_INFINITY), |best, x| if x.1 > best.1 { x } else { best })
		};
	let (residual_node, residual) = argmax(&|c| c.residual);
	let (price_node, price_gain) = argmax(&|c| c.price_gain);
	let (relative_node, relative_gain) =
		argmax(&|c| if c.probability >= 0.01 { c.price_gain / c.revenue } else { 0.0 });
	let (share_node, share_gain) = argmax(&|c| c.share_gain);
	let alone = checks.iter().filter(|c| c.alone).count();
	let mut out =
		format!("equilibrium check at iteration {} ({} nodes):\n", sim.iteration(), checks.len());
	let _ = writeln!(
		out,
		"  largest first-order (KKT) residual of dR/dp:    {residual:.3e} (node {residual_node})"
	);
	let _ = writeln!(
		out,
		"  largest revenue gain of a best-response price:  {price_gain:.3e} per request (node \
		 {price_node})"
	);
	let _ = writeln!(
		out,
		"  ... relative, of nodes chosen at least 1%:      {:.3}% (node {relative_node})",
		relative_gain * 100.0
	);
	let _ = writeln!(
		out,
		"  largest share gain of a move:                   {}",
		if share_gain > 0.0 {
			format!("{:.2}% (node {share_node})", share_gain * 100.0)
		} else {
			"none: no node wants to move".into()
		}
	);
	if alone > 0 {
		let _ = writeln!(
			out,
			"  {alone} node(s) alone on a layer: revenue grows with price, so their best price is \
			 --max-price"
		);
	}
	let passed = price_gain <= epsilon && share_gain <= 0.0;
	let _ = writeln!(
		out,
		"  verdict: {}",
		if passed {
			format!("equilibrium: no node can gain more than epsilon {epsilon:e} by a price or layer change")
		} else {
			format!("not an equilibrium within epsilon {epsilon:e}: run more --steps")
		}
	);
	(out, passed)
}

/// Average price (top) and node count (bottom) per layer over the iterations, as an SVG.
/// `reference`, if any, is drawn as a dashed price line labelled "closed form".
fn plot_svg(points: &[(usize, Vec<LayerState>)], title: &str, reference: Option<f64>) -> String {
	const WIDTH: f64 = 900.0;
	const PANEL: f64 = 250.0;
	const LEFT: f64 = 70.0;
	const RIGHT: f64 = 150.0;
	const TOP: f64 = 60.0;
	const GAP: f64 = 70.0;
	const COLORS: [&str; 8] =
		["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
	let height = TOP + 2.0 * PANEL + GAP + 50.0;
	let plot_width = WIDTH - LEFT - RIGHT;
	let last = points.last().map_or(1, |p| p.0).max(1) as f64;
	let layers = points.first().map_or(0, |p| p.1.len());
	let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
	let max_price = points
		.iter()
		.flat_map(|p| p.1.iter().filter_map(|l| finite(l.average_price)))
		.fold(0.0, f64::max);
	let max_nodes = points.iter().flat_map(|p| p.1.iter().map(|l| l.nodes)).max().unwrap_or(1);
	let price_top = nice_ceiling(max_price.max(reference.unwrap_or(0.0)).max(1e-9));
	let nodes_top = nice_ceiling(max_nodes.max(1) as f64);

	let mut svg = format!(
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
		 viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
		 <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
		 <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
		WIDTH / 2.0,
		xml_escape(title)
	);
	for (panel, (label, top)) in
		[("average price", price_top), ("nodes", nodes_top)].into_iter().enumerate()
	{
		let y0 = TOP + panel as f64 * (PANEL + GAP);
		let x_of = |i: usize| LEFT + plot_width * i as f64 / last;
		let y_of = |v: f64| y0 + PANEL - PANEL * (v / top).clamp(0.0, 1.0);
		// Frame, grid, ticks.
		let _ = writeln!(
			svg,
			"<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{plot_width}\" height=\"{PANEL}\" \
			 fill=\"none\" stroke=\"#333\"/>"
		);
		for k in 0..=5 {
			let v = top * k as f64 / 5.0;
			let y = y_of(v);
			let _ = writeln!(
				svg,
				"<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
				 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
				LEFT + plot_width,
				LEFT - 6.0,
				y + 4.0,
				tick_label(v)
			);
			let i = (last * k as f64 / 5.0).round() as usize;
			let _ = writeln!(
				svg,
				"<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{i}</text>",
				x_of(i),
				y0 + PANEL + 16.0
			);
		}
		let _ = writeln!(
			svg,
			"<text x=\"18\" y=\"{:.1}\" transform=\"rotate(-90 18 {:.1})\" \
			 text-anchor=\"middle\">{label}</text>\
			 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">iteration</text>",
			y0 + PANEL / 2.0,
			y0 + PANEL / 2.0,
			LEFT + plot_width / 2.0,
			y0 + PANEL + 34.0
		);
		if let (0, Some(p)) = (panel, reference) {
			let y = y_of(p);
			let _ = writeln!(
				svg,
				"<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#555\" \
				 stroke-dasharray=\"6,4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" \
				 fill=\"#555\">closed form {p:.3}</text>",
				LEFT + plot_width,
				LEFT + plot_width - 4.0,
				y - 6.0
			);
		}
		for layer in 0..layers {
			let color = COLORS[layer % COLORS.len()];
			let mut path = String::new();
			let mut previous: Option<f64> = None;
			for (i, states) in points {
				let v = match panel {
					0 => states[layer].average_price,
					_ => states[layer].nodes as f64,
				};
				let Some(v) = finite(v) else {
					previous = None;
					continue;
				};
				let (x, y) = (x_of(*i), y_of(v));
				match previous {
					None => {
						let _ = write!(path, "M{x:.1},{y:.1}");
					},
					// Node counts are steps, not slopes.
					Some(prev) if panel == 1 => {
						let _ = write!(path, " H{x:.1}");
						if prev != y {
							let _ = write!(path, " V{y:.1}");
						}
					},
					Some(_) => {
						let _ = write!(path, " L{x:.1},{y:.1}");
					},
				}
				previous = Some(y);
			}
			let _ = writeln!(
				svg,
				"<path d=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.6\" \
				 stroke-dasharray=\"{}\"/>",
				if layer >= COLORS.len() { "5,3" } else { "none" }
			);
		}
	}
	for layer in 0..layers.min(16) {
		let y = TOP + 10.0 + 18.0 * layer as f64;
		let x = LEFT + plot_width + 16.0;
		let _ = writeln!(
			svg,
			"<line x1=\"{x}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"2\"/>\
			 <text x=\"{}\" y=\"{}\">layer {}</text>",
			x + 22.0,
			COLORS[layer % COLORS.len()],
			x + 28.0,
			y + 4.0,
			layer + 1
		);
	}
	svg.push_str("</svg>\n");
	svg
}

/// The smallest 1, 2 or 5 times a power of ten at least `v`.
fn nice_ceiling(v: f64) -> f64 {
	let magnitude = 10f64.powf(v.log10().floor());
	[1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|m| *m >= v).unwrap_or(v)
}

fn tick_label(v: f64) -> String {
	if v == v.round() {
		format!("{v:.0}")
	} else {
		let text = format!("{v:.3}");
		text.trim_end_matches('0').to_string()
	}
}

fn xml_escape(text: &str) -> String {
	text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl WorkerError {
	/// An output file that could not be written.
	pub fn output(path: &Path, source: std::io::Error) -> Self {
		WorkerError::Output { path: path.to_path_buf(), source }
	}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
	use clap::Parser;

	use super::*;

	/// `simulate`'s flags alone (the full command line is `cli`'s, a layer above).
	#[derive(Debug, Parser)]
	struct Line {
		#[command(flatten)]
		args: SimulateArgs,
	}

	fn args(line: &[&str]) -> SimulateArgs {
		let mut full = vec!["simulate"];
		full.extend_from_slice(line);
		Line::try_parse_from(full).unwrap().args
	}

	#[test]
	fn the_defaults_are_the_papers_table_1() {
		let (setup, rows) = args(&[]).setup().unwrap();
		assert_eq!(setup.start, vec![10, 4, 10, 4]);
		assert_eq!(setup.costs, vec![1.0; 28]);
		assert_eq!((setup.alpha, setup.eta, setup.initial_price), (0.5, 1.0, 1.0));
		assert_eq!(rows, vec![0, 100, 500, 1000]);
	}

	#[test]
	fn flags_are_checked() {
		let (setup, rows) =
			args(&["--nodes", "30", "--layers", "5", "--steps", "300"]).setup().unwrap();
		assert_eq!(setup.start, vec![30, 0, 0, 0, 0]);
		assert_eq!(rows, vec![0, 100, 300]);
		let (setup, _) = args(&["--costs", "uniform:1:50", "--seed", "3"]).setup().unwrap();
		assert!(setup.costs.iter().all(|c| *c > 1.0 && *c < 50.0));
		for bad in [
			&["--start", "3,3", "--nodes", "7"][..],
			&["--nodes", "5"],
			&["--alpha", "0"],
			&["--alpha", "1.5"],
			&["--eta=-1"],
			&["--steps", "0"],
			&["--rows", "2000"],
			&["--costs", "uniform:50:1"],
			&["--costs", "normal"],
			&["--costs", "equal:-2"],
			&["--start", "0,0"],
		] {
			let err = args(bad).setup().unwrap_err();
			assert!(matches!(err, WorkerError::Usage(_)), "{bad:?}: {err}");
		}
	}

	#[test]
	fn the_plot_has_a_line_per_layer_and_panel() {
		let mut sim = Simulation::new(args(&[]).setup().unwrap().0);
		let mut points = vec![(0, sim.snapshot())];
		for i in 1..=300 {
			sim.step();
			points.push((i, sim.snapshot()));
		}
		let svg = plot_svg(&points, "a <title> & more", Some(7.0 / 3.0));
		assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
		assert_eq!(svg.matches("<path ").count(), 8, "4 layers x 2 panels");
		assert!(svg.contains("a &lt;title&gt; &amp; more"));
		assert!(svg.contains("closed form 2.333"));
		assert_eq!(svg.matches('<').count(), svg.matches('>').count());
		// The node-count lines are steps.
		assert!(svg.contains(" H") && svg.contains(" V"));
		assert_eq!((nice_ceiling(2.33), nice_ceiling(10.0), nice_ceiling(11.0)), (5.0, 10.0, 20.0));
	}

	#[test]
	fn the_check_passes_at_table_1s_end_and_fails_midway() {
		let mut sim = Simulation::new(args(&[]).setup().unwrap().0);
		for _ in 0..150 {
			sim.step();
		}
		let (report, passed) = equilibrium_report(&sim, 1e-3);
		assert!(!passed, "{report}");
		for _ in 150..1000 {
			sim.step();
		}
		let (report, passed) = equilibrium_report(&sim, 1e-3);
		assert!(passed && report.contains("no node wants to move"), "{report}");
	}
}
