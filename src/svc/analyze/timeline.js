/* keel analyze --html: the timeline page's script (docs/analyze.md).
 * d3 v3 (Debian's libjs-d3) is inlined before it; the data is the JSON in
 * <script id="data">.  Lanes: the detector's alerts, then connections
 * (from their first to their last frame in the log), then processes (from
 * fork or first sight to exit), over guest time.  Marks: exec, fork, exit,
 * accept, connect, uid changes, file writes, reads from connections.  The
 * --why answer's nodes are highlighted and listed.  A CPU lane shows how
 * busy the guest was: instructions retired per guest time, against the
 * fastest rate seen (the guest's time advances with its instructions
 * while it runs and jumps when it waits).  Zoom and pan with the
 * wheel and drag; the search box picks out matching lanes. */
(function () {
	"use strict";
	var D = JSON.parse(document.getElementById("data").textContent);
	var LANE = 16, LEFT = 260, TOP = 34;
	var W = Math.max(900, (window.innerWidth || 1200) - 30);
	var ans = D.answer, inAns = {};
	if (ans)
		ans.graph.nodes.forEach(function (n) { inAns[n.node] = n; });
	var KINDS = D.kinds;

	var rows = [{id: "cpu", kind: "cpu", label: "CPU busy (green)", t0: D.start_ns, t1: D.start_ns}];
	if (D.alerts.length)
		rows.push({id: "alerts", kind: "alerts", label: "alerts (" + D.alerts.length + ")",
			   t0: D.start_ns, t1: D.end_ns});
	D.conns.forEach(function (c) {
		rows.push({id: c.id, kind: "conn", t0: c.first_ns, t1: c.last_ns, d: c,
			   label: c.name + "  (client port " + c.client_port + ")"});
	});
	D.procs.forEach(function (p) {
		rows.push({id: p.id, kind: "proc", t0: p.start_ns, t1: p.end_ns === null ? D.end_ns : p.end_ns,
			   d: p, label: "pid " + p.pid + " " + p.comm + (p.exe ? "  " + p.exe : "")});
	});
	var rowOf = {};
	rows.forEach(function (r, i) { rowOf[r.id] = i; });
	function laneY(i) { return TOP + i * LANE; }

	var x = d3.scale.linear().domain([D.start_ns, Math.max(D.end_ns, D.start_ns + 1)])
		.range([LEFT, W - 10]);
	var H = TOP + rows.length * LANE + 10;
	var svg = d3.select("#timeline").attr("width", W).attr("height", H);
	svg.append("defs").append("clipPath").attr("id", "clip").append("rect")
		.attr("x", LEFT).attr("y", 0).attr("width", W - LEFT).attr("height", H);
	var axis = d3.svg.axis().scale(x).orient("top").ticks(8)
		.tickFormat(function (ns) { return (ns / 1e9).toFixed(3) + " s"; });
	var axisG = svg.append("g").attr("class", "axis").attr("transform", "translate(0," + (TOP - 6) + ")");

	var lanes = svg.selectAll("g.lane").data(rows).enter().append("g")
		.attr("class", function (r) { return "lane " + r.kind + (inAns[r.id] ? " answer" : ""); })
		.attr("id", function (r) { return "lane-" + r.id; })
		.attr("data-label", function (r) { return r.label; })
		.attr("transform", function (r, i) { return "translate(0," + laneY(i) + ")"; });
	lanes.append("rect").attr("class", "bg").attr("x", 0).attr("width", W).attr("height", LANE);
	lanes.append("text").attr("class", "label").attr("x", 4).attr("y", LANE - 4)
		.text(function (r) { return r.label.length > 40 ? r.label.slice(0, 39) + "\u2026" : r.label; })
		.append("title").text(function (r) { return r.label; });
	var spans = lanes.append("g").attr("clip-path", "url(#clip)").append("rect").attr("class", "span")
		.attr("y", 3).attr("height", LANE - 6);

	var plot = svg.append("g").attr("clip-path", "url(#clip)");
	/* a vertical link where a process touched a connection */
	var links = D.events.filter(function (e) { return e[4] !== null && rowOf[e[4]] !== undefined && rowOf[e[3]] !== undefined; });
	var linkSel = plot.selectAll("line.link").data(links).enter().append("line")
		.attr("class", function (e) {
			return "link" + (inAns[e[3]] && inAns[e[4]] ? " answer" : "");
		})
		.attr("y1", function (e) { return laneY(rowOf[e[4]]) + LANE / 2; })
		.attr("y2", function (e) { return laneY(rowOf[e[3]]) + LANE / 2; });
	var marks = D.events.filter(function (e) { return rowOf[e[3]] !== undefined; });
	var isAnsWrite = function (e) {
		return ans && e[1] <= ans.write.last_icount && e[5] >= ans.write.icount &&
			KINDS[e[2]] === "write" && D.objs[e[4]] && D.objs[e[4]].name === ans.path;
	};
	var markSel = plot.selectAll("circle.ev").data(marks).enter().append("circle")
		.attr("class", function (e) { return "ev " + KINDS[e[2]] + (isAnsWrite(e) ? " answer-write" : ""); })
		.attr("r", function (e) { return isAnsWrite(e) ? 6 : 3.5; })
		.attr("cy", function (e) { return laneY(rowOf[e[3]]) + LANE / 2; });
	markSel.append("title").text(function (e) {
		var o = e[4] !== null && D.objs[e[4]] ? " " + D.objs[e[4]].name : "";
		return KINDS[e[2]] + o + (e[6] ? " (" + e[6] + ")" : "") + " at icount " + e[1] +
			", " + (e[0] / 1e9).toFixed(6) + " s";
	});
	/* CPU: guest time points with their icounts, bucketed */
	var pts = D.events.map(function (e) { return [e[0], e[1]]; }).concat(D.jumps)
		.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
	/* guest ns per instruction while busy: the fastest rate over spans long
	 * enough for the clock's 100 ns steps not to matter */
	var nspi = Infinity;
	for (var i = 1, j = 0; i < pts.length; i++) {
		while (pts[i][1] - pts[j + 1][1] >= 1e6) j++;
		if (pts[i][1] - pts[j][1] >= 1e6 && pts[i][0] > pts[j][0])
			nspi = Math.min(nspi, (pts[i][0] - pts[j][0]) / (pts[i][1] - pts[j][1]));
	}
	var buckets = [], NB = 400, span = (D.end_ns - D.start_ns) / NB, k = 0;
	function icountAt(t) { /* linear between the points around t */
		while (k + 1 < pts.length && pts[k + 1][0] <= t) k++;
		if (k + 1 >= pts.length || pts[k][0] > t) return pts.length ? pts[Math.min(k, pts.length - 1)][1] : 0;
		var a = pts[k], b = pts[k + 1];
		return b[0] === a[0] ? b[1] : a[1] + (b[1] - a[1]) * (t - a[0]) / (b[0] - a[0]);
	}
	if (pts.length > 1 && isFinite(nspi) && span > 0) {
		var prev = icountAt(D.start_ns);
		for (var b = 0; b < NB; b++) {
			var t1 = D.start_ns + (b + 1) * span, cur = icountAt(t1);
			buckets.push({t0: t1 - span, t1: t1, busy: Math.min(1, (cur - prev) * nspi / span)});
			prev = cur;
		}
	}
	var cpuSel = plot.selectAll("rect.cpu").data(buckets).enter().append("rect").attr("class", "cpu")
		.attr("y", function (c) { return laneY(rowOf.cpu) + LANE - 1 - c.busy * (LANE - 2); })
		.attr("height", function (c) { return c.busy * (LANE - 2); });
	cpuSel.append("title").text(function (c) { return (100 * c.busy).toFixed(0) + "% busy"; });
	var alertSel = plot.selectAll("rect.alert").data(D.alerts).enter().append("rect")
		.attr("class", "alert").attr("width", 8).attr("height", LANE - 4)
		.attr("y", laneY(rowOf.alerts || 0) + 2);
	alertSel.append("title").text(function (a) {
		return a.policy + ": pid " + a.pid + " " + (a.comm || "") + " at icount " + a.icount;
	});

	function redraw() {
		axisG.call(axis);
		spans.attr("x", function (r) { return x(r.t0); })
			.attr("width", function (r) { return Math.max(2, x(r.t1) - x(r.t0)); });
		linkSel.attr("x1", function (e) { return x(e[0]); }).attr("x2", function (e) { return x(e[0]); });
		markSel.attr("cx", function (e) { return x(e[0]); });
		alertSel.attr("x", function (a) { return x(a.guest_ns) - 4; });
		cpuSel.attr("x", function (c) { return x(c.t0); })
			.attr("width", function (c) { return Math.max(1, x(c.t1) - x(c.t0)); });
	}
	var zoom = d3.behavior.zoom().x(x).scaleExtent([1, 1e7]).on("zoom", redraw);
	svg.call(zoom);
	redraw();

	/* the search box: matching lanes stand out, the rest fade */
	d3.select("#search").on("input", function () {
		var q = this.value.toLowerCase(), n = 0;
		lanes.classed("match", function (r) {
			var m = q !== "" && r.label.toLowerCase().indexOf(q) >= 0;
			n += m ? 1 : 0;
			return m;
		}).classed("dim", function (r) { return q !== "" && r.label.toLowerCase().indexOf(q) < 0; });
		d3.select("#count").text(q ? n + " of " + rows.length + " lanes match" : "");
	});

	/* the answer, in words, each line naming the node it highlights */
	var box = d3.select("#answer");
	if (!ans) {
		box.append("p").text("No --why question was asked: nothing is highlighted.");
		return;
	}
	box.append("h2").text("why " + ans.path + ": last written at icount " + ans.write.last_icount +
			      " by pid " + ans.write.pid + " (" + ans.write.comm + ")");
	var list = box.append("ul");
	ans.connections.forEach(function (c) {
		list.append("li").attr("class", "answer-node connection").attr("data-node", c.node)
			.text("connection " + c.name + ", client port " + c.client_port + ", " +
			      c.frames + " frames in the log");
	});
	ans.other_sources.forEach(function (c) {
		list.append("li").attr("class", "answer-node source").attr("data-node", c.node)
			.text(c.type + " " + c.name);
	});
	ans.chain.forEach(function (p) {
		list.append("li").attr("class", "answer-node process").attr("data-node", p.node)
			.attr("data-pid", p.pid)
			.text("pid " + p.pid + " " + p.comm + (p.exe ? " (" + p.exe + ")" : "") +
			      ", uid " + p.uid + (p.forked ? ", forked at icount " + p.start_icount : ""));
	});
	list.selectAll("li").on("mouseover", function () {
		var id = this.getAttribute("data-node");
		lanes.classed("focus", function (r) { return r.id === id; });
	});
	box.append("p").text(ans.graph.nodes.length + " nodes and " + ans.graph.edges.length +
			     " edges in the backward graph; " + ans.graph.pruned_edges +
			     " edges into them pruned by time order.");
})();
