// tempo: stages
// A k6 script that pytest-tempo runs as a test item: pytest --load-profile=smoke
// The line above asks for the profile as k6 --stage flags (ramp-up, steady, ramp-down).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/price`);
  check(res, { 'price answers': (r) => r.status === 200 });
}
