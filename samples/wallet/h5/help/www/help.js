// The help centre's page logic: two host APIs its h5.json requests (and
// app.json grants), and one it does not request, which the bridge refuses.
function text(id, value) {
  document.getElementById(id).textContent = value;
}

document.addEventListener('DOMContentLoaded', function () {
  AtriumBridge.call('wallet.getBalance').then(function (r) {
    text('balance', 'Balance: ' + r.balance + ' ' + r.currency + ' (' + r.holder + ')');
  }, function (e) {
    text('balance', 'Balance unavailable: ' + e.message);
  });
  AtriumBridge.call('wallet.recentBills').then(function (bills) {
    var list = document.getElementById('bills');
    list.textContent = '';
    bills.forEach(function (b) {
      var item = document.createElement('li');
      item.textContent = b.payee + ': ' + b.amount + ' EUR, due ' + b.due;
      list.appendChild(item);
    });
  }, function (e) {
    text('bills', 'Bills unavailable: ' + e.message);
  });
  AtriumBridge.call('wallet.transfer', {to: 'someone', amount: '1.00'}).then(function () {
    text('transfer', 'Transfer: sent (this should never happen)');
  }, function (e) {
    text('transfer', 'Refused, as it should be: ' + e.message);
  });
});
