// MathJax 3 configuration for pymdownx.arithmatex (generic mode).
window.MathJax = {
  // textmacros: \_ and other text-mode commands inside \text{...} (as in LaTeX).
  loader: { load: ["[tex]/textmacros"] },
  tex: {
    packages: { "[+]": ["textmacros"] },
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// Re-typeset after instant navigation (mkdocs-material's document$ observable), once MathJax has
// started: loading textmacros makes its startup asynchronous.
document$.subscribe(() => {
  if (!MathJax.startup || !MathJax.startup.promise) return; // not loaded yet: it typesets on start
  MathJax.startup.promise = MathJax.startup.promise.then(() => {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise();
  });
});
