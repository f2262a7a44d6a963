// The live count of a typical case's text (templates/enforce/cases): characters other than
// whitespace, as annex 4's 1,000-1,500 is counted (enforce/cases/anonymise.py counted_length).
(function () {
  'use strict';
  function wire(area) {
    var out = document.getElementById(area.getAttribute('data-count'));
    if (!out) return;
    var label = out.getAttribute('data-label');
    function update() { out.textContent = label.replace('{n}', String([...area.value.replace(/\s/gu, '')].length)); }
    area.addEventListener('input', update);
    update();
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('textarea[data-count]').forEach(wire);
  });
}());
