// The site's own offline Mermaid: a stand-in with the two calls Material makes.
window.mermaid = {
  initialize: function () {},
  render: function (id, code) {
    var text = code.replace(/[&<>]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c];
    });
    var svg = '<svg xmlns="http://www.w3.org/2000/svg" id="' + id + '" width="320" height="40">' +
      '<text x="4" y="24">' + text.split("\n")[0] + "</text></svg>";
    return Promise.resolve({ svg: svg });
  },
};
