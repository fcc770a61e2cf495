import wrtc from '@roamhq/wrtc';
const mode = process.argv[2];
const src = new wrtc.nonstandard.RTCVideoSource();
const track = src.createTrack();
const pc = new wrtc.RTCPeerConnection();
pc.addTransceiver(track, {direction:'sendonly'});
const o = await pc.createOffer(); await pc.setLocalDescription(o);
const w=320,h=240; const f = new Uint8ClampedArray(w*h*1.5);
for (let i=0;i<5;i++){ src.onFrame({width:w,height:h,data:f}); await new Promise(r=>setTimeout(r,50)); }
if (mode.includes('stop')) track.stop();
if (mode.includes('close')) pc.close();
console.log('done');
