/* report.html of a sweep: bt_html_sweep.c writes the blob. */
function btMain() { app.append(el('h1', {}, 'Sweep')); }
